using RecAlign.Prompts;

namespace RecAlign.Tests.Prompts;

public class PreferenceNoiseTests
{
    private static List<PreferenceExample> Data(int n) =>
        Enumerable.Range(0, n).Select(i => new PreferenceExample($"p{i}", $"good{i}", [$"bad{i}a", $"bad{i}b"]) { Weight = 1 + i }).ToList();

    [Fact]
    public void FlipsTheGivenShareSeededAndSwapsChosenWithTheFirstRejected()
    {
        var data = Data(50);
        var (noisy, flipped) = PreferenceNoise.Flip(data, 0.2, seed: 3);
        Assert.Equal(10, flipped.Count);
        for (int i = 0; i < data.Count; i++)
        {
            if (flipped.Contains(i))
            {
                Assert.Equal($"bad{i}a", noisy[i].Chosen);
                Assert.Equal([$"good{i}", $"bad{i}b"], noisy[i].Rejected);
            }
            else Assert.Same(data[i], noisy[i]);
            Assert.Equal(data[i].Prompt, noisy[i].Prompt);
            Assert.Equal(data[i].Weight, noisy[i].Weight);
        }
        Assert.Equal(flipped, PreferenceNoise.Flip(data, 0.2, seed: 3).Flipped);
        Assert.NotEqual(flipped, PreferenceNoise.Flip(data, 0.2, seed: 4).Flipped);
        Assert.Empty(PreferenceNoise.Flip(data, 0, seed: 3).Flipped);
        Assert.Equal(50, PreferenceNoise.Flip(data, 1, seed: 3).Flipped.Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => PreferenceNoise.Flip(data, 1.5, seed: 3));
    }
}
