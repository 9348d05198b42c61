namespace RecAlign.Data.Candidates;

/// <summary>Supplies ranked items for a history (e.g. a trained SASRec retriever), best first. The candidate sampler
/// takes the top ones that are neither the target nor (by default) in the history as hard negatives.</summary>
public interface ICandidateSource
{
    /// <summary>Up to <paramref name="count"/> item ids ranked for <paramref name="user"/> after
    /// <paramref name="history"/>, best first.</summary>
    IReadOnlyList<int> Retrieve(int user, IReadOnlyList<int> history, int count);
}
