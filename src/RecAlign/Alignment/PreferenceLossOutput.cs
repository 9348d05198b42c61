using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// A preference loss on a batch: <see cref="Loss"/> (scalar, mean over the batch, with graph; with per-example weights
/// mean_i w_i·PerExample_i),
/// <see cref="PerExample"/> [B] (with graph; composite losses such as Dr.DPO aggregate it differently) and
/// detached scalar statistics under TRL's names (see <see cref="PreferenceStatistics"/>). Statistics stay tensors so
/// that logging, not the loss, decides when to synchronise.
/// </summary>
public sealed record PreferenceLossOutput(Tensor Loss, Tensor PerExample, IReadOnlyDictionary<string, Tensor> Stats);
