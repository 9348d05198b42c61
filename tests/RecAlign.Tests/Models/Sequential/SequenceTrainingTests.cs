using RecAlign.Data;
using RecAlign.Models.Sequential;
using RecAlign.Training;
using static TorchSharp.torch;

namespace RecAlign.Tests.Models.Sequential;

public class SequenceTrainingTests
{
    private static SequentialModel Model(string kind, int maxLength) =>
        SequentialModel.Create(SequentialModelConfig.For(kind) with { NItems = 30, MaxSeqLength = maxLength }, seed: 4);

    [Fact]
    public void WindowsTrainEveryNextItemOnceWithAtLeastHalfAWindowOfHistory()
    {
        using var model = Model("sasrec", 4);
        var seq = Enumerable.Range(0, 12).ToArray(); // 11 next items
        var objective = new NextItemSequenceObjective(model, [seq]);
        Assert.Equal(11, objective.Examples);
        var trained = new List<(int History, int Target)>();
        foreach (var (inputs, targets) in objective.Windows)
        {
            Assert.True(inputs.Length <= 4);
            for (int p = 0; p < targets.Length; p++)
                if (targets[p] >= 0)
                {
                    Assert.Equal(inputs[p] + 1, targets[p]); // the next item of this sequence
                    trained.Add((p + 1, targets[p]));
                }
        }
        Assert.Equal(Enumerable.Range(1, 11), trained.Select(t => t.Target).Order());
        Assert.All(trained.Where(t => t.Target > 4), t => Assert.True(t.History >= 2, $"target {t.Target} saw only {t.History} items"));
    }

    [Fact]
    public void SequencesAreRecoveredOnlyFromCompletePrefixSets()
    {
        SequenceExample E(int user, int[] history, int target) => new(user, history, target, 0);
        var prefixes = new[] { E(0, [5], 6), E(0, [5, 6], 7), E(1, [1], 2), E(0, [5, 6, 7], 8) };
        var sequences = NextItemSequenceObjective.SequencesOf(prefixes)!;
        Assert.Equal([5, 6, 7, 8], sequences.Single(s => s[0] == 5));
        Assert.Equal([1, 2], sequences.Single(s => s[0] == 1));
        Assert.Null(NextItemSequenceObjective.SequencesOf([E(0, [5], 6), E(0, [5, 6, 7], 8)]));          // a prefix missing
        Assert.Null(NextItemSequenceObjective.SequencesOf([E(0, [5], 6), E(0, [9, 6], 7)]));             // not a prefix
        Assert.Null(NextItemSequenceObjective.SequencesOf([E(0, [1, 2], 3), E(0, [2, 3], 4)]));          // table windows
    }

    [Theory]
    [InlineData("sasrec")]
    [InlineData("gru4rec")]
    public void SequenceLossEqualsTheMeanOfThePrefixLosses(string kind)
    {
        using var model = Model(kind, 8);
        model.eval(); // no dropout: both paths see the same states
        using var scope = NewDisposeScope();
        var seq = new[] { 3, 9, 4, 27, 11, 6 };
        using var whole = SequenceBatch.Make([seq[..^1]], 8, 30);
        var targets = tensor(seq[1..].Select(i => (long)i).ToArray()).unsqueeze(0);
        double sequenceLoss = model.CalculateSequenceLoss(whole.Items, whole.Lengths, targets).item<float>();
        var histories = Enumerable.Range(1, seq.Length - 1).Select(n => (IReadOnlyList<int>)seq[..n]).ToList();
        using var prefixes = SequenceBatch.Make(histories, 8, 30);
        double prefixLoss = model.CalculateLoss(prefixes.Items, prefixes.Lengths, tensor(seq[1..].Select(i => (long)i).ToArray())).item<float>();
        Assert.Equal(prefixLoss, sequenceLoss, 5);
    }

    [Fact]
    public void ModelsWithoutPerPositionStatesRefuseSequenceTraining()
    {
        using var model = Model("caser", 5);
        Assert.False(model.HasSequenceStates);
        Assert.Throws<ArgumentException>(() => new NextItemSequenceObjective(model, [new[] { 1, 2, 3 }]));
    }
}
