using RecAlign.Data;

namespace RecAlign.Prompts;

/// <summary>How a list of titles is written into a prompt.</summary>
public enum ItemListStyle
{
    /// <summary><c>A, B, C</c>: S-DPO's join (titles containing ", " become ambiguous).</summary>
    Comma,
    /// <summary><c>"A", "B", "C"</c>: unambiguous with MovieLens-style titles (<c>Lion King, The</c>).</summary>
    Quoted,
    /// <summary>One per line: <c>1. A</c>, <c>2. B</c>.</summary>
    Numbered,
}

/// <summary>Prompt rendering settings; defaults reproduce S-DPO (last 10 history items, comma-joined titles, one
/// random template per example). The space between the prompt and the answer is added when the answer is tokenized
/// (<see cref="PromptTokenization"/>), not here.</summary>
public sealed record PromptConfig
{
    public ulong Seed { get; init; } = 0;
    /// <summary>Most recent history items shown (0 = all).</summary>
    public int MaxHistory { get; init; } = 10;
    public ItemListStyle HistoryStyle { get; init; } = ItemListStyle.Comma;
    public ItemListStyle CandidateStyle { get; init; } = ItemListStyle.Comma;
    /// <summary>Appended to every rendered template (e.g. a newline). Trailing spaces are dropped at tokenization, where
    /// the answer gets its leading space (S-DPO's "Answer: " + title becomes "Answer:" + " title").</summary>
    public string PromptSuffix { get; init; } = "";
    /// <summary>Render the history as empty (the history ablation: the same question, template and candidates without
    /// the user's past, to measure how much a model reads it).</summary>
    public bool OmitHistory { get; init; }
    /// <summary>Slot token after each history title in <c>{history_embeddings}</c>.</summary>
    public string EmbeddingToken { get; init; } = "[HistoryEmb]";
    /// <summary>How items appear in prompts and answers: titles (S-DPO), item tokens alone, or "&lt;item_k&gt; Title"
    /// in prompts; with item tokens the answer is the item's token.</summary>
    public ItemText ItemText { get; init; } = ItemText.Title;
    /// <summary>Negatives per preference example (1 for DPO, 3+ for Softmax-DPO).</summary>
    public int RejectedCount { get; init; } = 1;
}
