using RecAlign.Data;
using RecAlign.Prompts;

namespace RecAlign.Tests.Prompts;

public class PromptBuilderTests
{
    private static readonly ItemCatalog Catalog = new(new[] { "Boris", "Fever Ray", "Fennesz", "Iggy Pop", "Lion King, The", "Hope" }
        .Select((t, i) => new Item(i, i.ToString(), t)));

    private static readonly CandidateExample Example = new(7, [0, 1, 2], 3, [4, 3, 5]);

    [Fact]
    public void RendersSdpoStyleWithoutTheAnswerLeakingBeyondTheList()
    {
        var t = new PromptTemplate("This user has listened to {history} in the previous. Given the following list of artists: {candidates}, recommend one. Answer:");
        var b = new PromptBuilder(Catalog, [t]);
        var p = b.Build(Example);
        Assert.Equal("This user has listened to Boris, Fever Ray, Fennesz in the previous. Given the following list of artists: Lion King, The, Iggy Pop, Hope, recommend one. Answer:", p.Prompt);
        Assert.Equal("Iggy Pop", p.Response);
        var quoted = new PromptBuilder(Catalog, [t], new PromptConfig { CandidateStyle = ItemListStyle.Quoted, MaxHistory = 2, PromptSuffix = "" }).Prompt(Example);
        Assert.Contains("Fever Ray, Fennesz in", quoted);
        Assert.DoesNotContain("Boris", quoted);
        Assert.Contains("\"Lion King, The\", \"Iggy Pop\", \"Hope\"", quoted);
        Assert.EndsWith("Answer:", quoted);
    }

    [Fact]
    public void OmitHistoryRendersTheSameQuestionWithoutItsTitles()
    {
        // The pipeline's history ablation (hr1_without_history) asks the same question with the history left out.
        foreach (ulong seed in new ulong[] { 1, 2, 3, 4, 5 })
        {
            var full = new PromptBuilder(Catalog, PromptTemplates.Item, new PromptConfig { Seed = seed }).Prompt(Example);
            var bare = new PromptBuilder(Catalog, PromptTemplates.Item, new PromptConfig { Seed = seed, OmitHistory = true }).Prompt(Example);
            foreach (var h in Example.History) Assert.DoesNotContain(Catalog.Title(h), bare);
            // Same template (drawn per example, not per rendered history), so only the history's titles are gone.
            Assert.Equal(full.Replace("Boris, Fever Ray, Fennesz", ""), bare);
        }
    }

    [Fact]
    public void TemplatesValidatePlaceholdersAndReadSdpoFiles()
    {
        Assert.Throws<ArgumentException>(() => new PromptTemplate("{history} -> {target}"));
        Assert.Throws<ArgumentException>(() => new PromptTemplate("{history} {cands}"));
        Assert.Throws<ArgumentException>(() => new PromptTemplate("no history here {candidates}"));
        var literal = new PromptTemplate("{{json}} {history}");
        Assert.Equal("{json} A", literal.Render(new Dictionary<string, string> { ["history"] = "A" }));
        var parsed = PromptTemplate.Parse("# comment\nThis person listened to [HistoryHere]. Pick from [CansHere]. Answer: \n\n  {history} then {candidates}?  \n");
        Assert.Equal(2, parsed.Count);
        Assert.Equal("This person listened to {history}. Pick from {candidates}. Answer:", parsed[0].Text);
        var e = Assert.Throws<DataFormatException>(() => PromptTemplate.Parse("ok {history}\nbad {target} {history}", "t.txt"));
        Assert.Equal(2, e.Line);
        Assert.All(new[] { PromptTemplates.Music, PromptTemplates.Movie, PromptTemplates.Item, PromptTemplates.Hybrid }.SelectMany(x => x),
            t => Assert.DoesNotContain("target", t.Text));
    }

    [Fact]
    public void TemplateChoiceIsSeededPerExampleAndVaries()
    {
        var b = new PromptBuilder(Catalog, PromptTemplates.Music, new PromptConfig { Seed = 1 });
        var examples = Enumerable.Range(0, 40).Select(u => Example with { User = u }).ToList();
        var first = b.Build(examples).Select(p => p.Prompt).ToList();
        var again = new PromptBuilder(Catalog, PromptTemplates.Music, new PromptConfig { Seed = 1 }).Build(examples).Select(p => p.Prompt).ToList();
        Assert.Equal(first, again);
        Assert.True(first.Distinct().Count() >= 4, "several templates should be used");
        // The template does not depend on the target.
        Assert.Equal(b.Prompt(Example), b.Prompt(Example with { Target = 5 }));
        Assert.Contains("3 options", string.Join("\n", first));
    }

    [Fact]
    public void PreferencesTakeDistinctSeededNegativesFromTheList()
    {
        var b = new PromptBuilder(Catalog, PromptTemplates.Item);
        var one = b.BuildPreference(Example);
        Assert.Equal("Iggy Pop", one.Chosen);
        Assert.Single(one.Rejected);
        var two = b.BuildPreference(Example, 2);
        Assert.Equal(["Hope", "Lion King, The"], two.Rejected.Order());
        Assert.Equal(two.Rejected, b.BuildPreference(Example, 2).Rejected);
        Assert.Throws<ArgumentException>(() => b.BuildPreference(Example, 3));
        var rejectedFirst = Enumerable.Range(0, 60).Select(u => b.BuildPreference(Example with { User = u }).Rejected[0]).Distinct().Count();
        Assert.Equal(2, rejectedFirst);
    }

    [Fact]
    public void ChatHookWrapsAndHybridMarksHistory()
    {
        var b = new PromptBuilder(Catalog, PromptTemplates.Hybrid, new PromptConfig { PromptSuffix = "" }, p => $"<|user|>{p}<|assistant|>");
        var prompt = b.Prompt(Example);
        Assert.StartsWith("<|user|>This user has interacted with Boris [HistoryEmb], Fever Ray [HistoryEmb], Fennesz [HistoryEmb] in", prompt);
        Assert.EndsWith("<|assistant|>", prompt);
    }
}
