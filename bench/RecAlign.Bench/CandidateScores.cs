using static TorchSharp.torch;

namespace RecAlign.Bench;

/// <summary>
/// Log-likelihood scores of every prompt's candidates, [B, C]: <see cref="Sum"/> = Σ log p(candidate | prompt) and
/// <see cref="Mean"/> = Sum / candidate length (per-token, length-normalised). A prompt with fewer than C candidates
/// has −∞ in the missing columns (they rank last and are left out of rankings).
/// </summary>
internal sealed class CandidateScores
{
    public CandidateScores(float[,] sum, int[,] lengths, int[] candidateCounts)
    {
        int b = sum.GetLength(0), c = sum.GetLength(1);
        if (lengths.GetLength(0) != b || lengths.GetLength(1) != c || candidateCounts.Length != b)
            throw new ArgumentException("sum, lengths and candidate counts disagree on shape");
        Sum = sum;
        Lengths = lengths;
        CandidateCounts = candidateCounts;
        Mean = new float[b, c];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < c; j++)
                Mean[i, j] = j < candidateCounts[i] ? sum[i, j] / lengths[i, j] : float.NegativeInfinity;
    }

    public float[,] Sum { get; }
    public float[,] Mean { get; }
    /// <summary>Token count of each candidate (0 for missing columns).</summary>
    public int[,] Lengths { get; }
    public int[] CandidateCounts { get; }
    public int PromptCount => Sum.GetLength(0);
    public int MaxCandidates => Sum.GetLength(1);

    /// <summary>[B, C] fp32 tensor of the summed (or length-normalised) scores; the caller owns it.</summary>
    public Tensor ToTensor(bool lengthNormalized = false) => tensor(lengthNormalized ? Mean : Sum);

    public float Score(int prompt, int candidate, bool lengthNormalized = false) =>
        lengthNormalized ? Mean[prompt, candidate] : Sum[prompt, candidate];

    /// <summary>Candidate indices of <paramref name="prompt"/>, best first (ties keep the input order).</summary>
    public int[] Ranking(int prompt, bool lengthNormalized = false)
    {
        var scores = lengthNormalized ? Mean : Sum;
        return Enumerable.Range(0, CandidateCounts[prompt]).OrderByDescending(c => scores[prompt, c]).ToArray();
    }

    public int[][] Rankings(bool lengthNormalized = false) =>
        Enumerable.Range(0, PromptCount).Select(p => Ranking(p, lengthNormalized)).ToArray();

    /// <summary>The largest absolute difference to <paramref name="other"/> over real candidates (for checks).</summary>
    public float MaxAbsDifference(CandidateScores other, bool lengthNormalized = false)
    {
        if (other.PromptCount != PromptCount || other.MaxCandidates != MaxCandidates) throw new ArgumentException("shapes differ");
        float max = 0;
        for (int i = 0; i < PromptCount; i++)
            for (int j = 0; j < CandidateCounts[i]; j++)
                max = Math.Max(max, Math.Abs(Score(i, j, lengthNormalized) - other.Score(i, j, lengthNormalized)));
        return max;
    }
}
