using RecAlign.Data;

namespace RecAlign.Prompts;

/// <summary>Renders candidate examples (ids) as <see cref="CandidateQuestion"/>s (text) for evaluation; the candidates are
/// the answers a model gives for them (titles, or item tokens).</summary>
public static class CandidateQuestions
{
    public static List<CandidateQuestion> From(PromptBuilder builder, ItemCatalog catalog, IEnumerable<CandidateExample> examples) =>
        examples.Select(e => new CandidateQuestion(builder.Prompt(e), e.Candidates.Select(builder.Answer).ToList(), TargetIndex(e))
        {
            Items = new QuestionItems(catalog, builder.Config.OmitHistory ? [] : e.History, e.Candidates),
        }).ToList();

    public static int TargetIndex(CandidateExample e)
    {
        int found = -1;
        for (int i = 0; i < e.Candidates.Count; i++)
        {
            if (e.Candidates[i] != e.Target) continue;
            if (found >= 0) throw new ArgumentException($"candidate list of example {e.User} holds its target twice");
            found = i;
        }
        return found >= 0 ? found : throw new ArgumentException($"candidate list of example {e.User} lacks its target");
    }
}
