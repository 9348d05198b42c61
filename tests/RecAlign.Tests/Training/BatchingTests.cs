using RecAlign.Text;
using RecAlign.Training;
using RecAlign.Training.Batching;

namespace RecAlign.Tests.Training;

public class BatchingTests
{
    [Fact]
    public void CollateMasksPromptAndPaddingAndShiftsTargets()
    {
        var examples = new[]
        {
            new TokenizedExample([5, 6, 7], [8, 2]),
            new TokenizedExample([9], [10, 11, 2]),
        };
        using var batch = BatchCollator.Collate(examples, padId: 0, maxLength: 16);
        Assert.Equal(new long[] { 5, 6, 7, 8, 2, 9, 10, 11, 2, 0 }, batch.InputIds.data<long>().ToArray());
        Assert.Equal(new long[] { 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 }, batch.AttentionMask.data<long>().ToArray());
        const long I = NextTokenLoss.IgnoreIndex;
        // Row 0: positions 2,3 predict the response tokens 8 and 2. Row 1: positions 0,1,2 predict 10, 11, 2.
        Assert.Equal(new long[] { I, I, 8, 2, I, 10, 11, 2, I, I }, batch.Targets.data<long>().ToArray());
        Assert.Equal(5, batch.TargetTokens);
    }

    [Fact]
    public void CollateTruncatesPromptFromTheLeft()
    {
        using var batch = BatchCollator.Collate([new TokenizedExample([1, 2, 3, 4, 5], [6, 2])], padId: 0, maxLength: 4);
        Assert.Equal(new long[] { 4, 5, 6, 2 }, batch.InputIds.data<long>().ToArray());
        const long I = NextTokenLoss.IgnoreIndex;
        Assert.Equal(new long[] { I, 6, 2, I }, batch.Targets.data<long>().ToArray());
    }

    [Fact]
    public void BucketedPlanCoversEveryExampleOnceAndIsDeterministic()
    {
        var lengths = Enumerable.Range(0, 103).Select(i => (i * 37) % 50 + 1).ToArray();
        var plan = LengthBucketedBatches.Plan(lengths, batchSize: 8, seed: 3, epoch: 0, bucketFactor: 4);
        Assert.Equal(Enumerable.Range(0, 103), plan.SelectMany(b => b).Order());
        Assert.Equal(plan.Select(b => string.Join(',', b)), LengthBucketedBatches.Plan(lengths, 8, 3, 0, 4).Select(b => string.Join(',', b)));
        Assert.NotEqual(plan.Select(b => string.Join(',', b)), LengthBucketedBatches.Plan(lengths, 8, 3, 1, 4).Select(b => string.Join(',', b)));
        // Bucketing reduces padding compared with random batches.
        long Padding(IEnumerable<int[]> batches) => batches.Sum(b => b.Length * b.Max(i => lengths[i]) - b.Sum(i => lengths[i]));
        var random = Enumerable.Range(0, 103).OrderBy(i => (i * 7919) % 103).Chunk(8);
        Assert.True(Padding(plan) < Padding(random) / 2);
    }
}

public class NextTokenLossTests
{
    [Fact]
    public void BlockwiseCrossEntropyEqualsOneShotLossAndGradients()
    {
        using var lm = RecAlign.Models.Language.LanguageModel.Create(RecAlign.Tests.Models.LanguageModelTests.TinyConfig(), seed: 4);
        using var ids = TorchSharp.torch.tensor(new long[,] { { 1, 5, 7, 9, 11, 2 }, { 1, 6, 8, 10, 0, 0 } });
        using var targets = TorchSharp.torch.tensor(new long[,] { { 5, 7, 9, 11, 2, NextTokenLoss.IgnoreIndex }, { 6, 8, 10, 2, NextTokenLoss.IgnoreIndex, NextTokenLoss.IgnoreIndex } });
        var q = lm.named_parameters().First(p => p.name == "model.layers.0.self_attn.q_proj.weight").parameter;

        using var whole = NextTokenLoss.Compute(lm, ids, targets);
        whole.backward();
        using var gradWhole = q.grad!.clone();
        q.grad!.zero_();
        using var blocks = NextTokenLoss.Compute(lm, ids, targets, chunkLogitElements: 3 * 50); // 3 rows per block of 9 targets
        blocks.backward();
        using var gradBlocks = q.grad!.clone();

        Assert.Equal(whole.item<float>(), blocks.item<float>(), 5);
        Assert.True(gradWhole.allclose(gradBlocks, 1e-5, 1e-6));
    }
}
