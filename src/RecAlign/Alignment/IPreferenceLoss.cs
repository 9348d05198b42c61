namespace RecAlign.Alignment;

/// <summary>A preference-alignment loss over summed response log-probs; see <see cref="PreferenceLosses"/> for the
/// registry by name.</summary>
public interface IPreferenceLoss
{
    /// <summary>Registry name (<c>dpo</c>, <c>sdpo</c>, ...).</summary>
    string Name { get; }
    /// <summary>Whether <see cref="PreferenceBatchLogps.RefChosen"/>/<c>RefRejected</c> must be given (false: the
    /// trainer can skip the reference forward pass).</summary>
    bool RequiresReference { get; }
    /// <summary>Whether response token counts must be given.</summary>
    bool RequiresLengths { get; }
    /// <summary>Whether <see cref="PreferenceBatchLogps.Environments"/> and <c>Representations</c> must be given
    /// (CausalDPO): the objective then computes the environment features and pooled response states.</summary>
    bool RequiresEnvironments => false;
    PreferenceLossOutput Compute(PreferenceBatchLogps batch);
}
