using RecAlign.Data;
using RecAlign.Prompts;
using RecAlign.Text;

namespace RecAlign.Interpretation;

/// <summary>What the interpreter is asked (<c>--task</c>).</summary>
public enum InterpretTask
{
    /// <summary>Sequence recovery: one soft token (a history's states) → the history's titles.</summary>
    Recovery,
    /// <summary>Sequence residual: two soft tokens (a history before and after one more item) → that item's title.</summary>
    Residual,
    /// <summary>Both kinds of examples, trained together and evaluated apart.</summary>
    Both,
}

/// <summary>
/// One tokenized interpreter example: <see cref="Prompt"/> (BOS + the template's text, with a placeholder id at each
/// <see cref="Slots"/> position, where the soft token of the matching <see cref="States"/> entry enters), the target
/// <see cref="Response"/> (" " + <see cref="Target"/> + EOS, never truncated), and for evaluation the history's titles
/// (recovery) or the added item's title (residual, = <see cref="Target"/>).
/// </summary>
public sealed record InterpretationExample(InterpretTask Task, int User, int[] Prompt, int[] Slots, StateRequest[] States, int[] Response,
    string Target, IReadOnlyList<string> HistoryTitles)
{
    public int Length => Prompt.Length + Response.Length;
}

/// <summary>RecInterpreter's prompts. <see cref="Slot"/> marks where a soft token enters: once in the recovery prompt,
/// twice (before, after) in the residual prompt. The released code's prompt files are missing; these follow the
/// method notes' proposal.</summary>
public sealed record InterpretationPrompts
{
    public const string Slot = "<SeqHere>";
    public const string DefaultRecovery = "<Seq><SeqHere></Seq> Describe the items in this user's history:";
    public const string DefaultResidual = "<Seq><SeqHere></Seq> is a user's history before and <Seq><SeqHere></Seq> after one more item. The added item is:";

    public string Recovery { get; init; } = DefaultRecovery;
    public string Residual { get; init; } = DefaultResidual;

    public static int SlotCount(string template) => (template.Length - template.Replace(Slot, "").Length) / Slot.Length;

    /// <summary>Throws naming the field when a template has the wrong number of slots.</summary>
    public void Validate()
    {
        if (SlotCount(Recovery) != 1) throw new ArgumentException($"recovery_prompt must hold {Slot} exactly once (got {SlotCount(Recovery)}): '{Recovery}'");
        if (SlotCount(Residual) != 2) throw new ArgumentException($"residual_prompt must hold {Slot} exactly twice, the history before and after the item (got {SlotCount(Residual)}): '{Residual}'");
    }

    /// <summary>BOS + each text piece encoded on its own, with <paramref name="placeholderId"/> at every slot; returns
    /// the ids and the slots' positions. Trailing spaces of the template are dropped, as for every prompt
    /// (<see cref="PromptTokenization.Prompt"/>).</summary>
    public static (int[] Ids, int[] Slots) Tokenize(ITokenizer tokenizer, string template, int placeholderId)
    {
        var pieces = template.TrimEnd(' ').Split(Slot);
        var ids = new List<int>();
        if (tokenizer.BosId is { } bos) ids.Add(bos);
        var slots = new List<int>();
        for (int i = 0; i < pieces.Length; i++)
        {
            if (i > 0) { slots.Add(ids.Count); ids.Add(placeholderId); }
            if (pieces[i].Length > 0) ids.AddRange(tokenizer.Encode(pieces[i]));
        }
        return (ids.ToArray(), slots.ToArray());
    }
}

/// <summary>Builds interpreter examples from next-item examples (history, target).</summary>
public static class InterpretationData
{
    /// <summary>Each item of <paramref name="data"/> as the recommender's item id (by external id, else by title), or −1.</summary>
    public static int[] MapToRecommender(ItemCatalog data, ItemCatalog recommender) =>
        data.Items.Select(i => recommender.TryGetByExternalId(i.ExternalId, out var r) || recommender.TryGetByTitle(i.Title, out r) ? r : -1).ToArray();

    /// <summary>
    /// Recovery: the history the recommender reads (its last <paramref name="window"/> items) → its titles, comma-joined
    /// as pretraining histories are. Residual: that history and the history with the target appended (again its last
    /// <paramref name="window"/> items) → the target's title. Examples with an empty history, or with an item the
    /// recommender does not know, are skipped (counted in the result). <paramref name="keyBase"/> + 2·index + slot keys
    /// each state (the random floor's draw). A prompt + target longer than <paramref name="maxTokens"/> (the LM's
    /// context) is an error: targets are never cut.
    /// </summary>
    public static (List<InterpretationExample> Examples, int Skipped) Build(IReadOnlyList<SequenceExample> source, ItemCatalog catalog, int[] recommenderId,
        int window, InterpretTask task, InterpretationPrompts prompts, ITokenizer tokenizer, long keyBase, int maxTokens, string sourceName)
    {
        int placeholder = tokenizer.PadId ?? tokenizer.UnkId ?? tokenizer.EosId ?? 0;
        var recovery = InterpretationPrompts.Tokenize(tokenizer, prompts.Recovery, placeholder);
        var residual = InterpretationPrompts.Tokenize(tokenizer, prompts.Residual, placeholder);
        var examples = new List<InterpretationExample>();
        int skipped = 0;
        for (int index = 0; index < source.Count; index++)
        {
            var e = source[index];
            var history = e.History.Skip(Math.Max(0, e.History.Count - window)).ToArray();
            if (history.Length == 0 || history.Append(e.Target).Any(i => i < 0 || i >= recommenderId.Length || recommenderId[i] < 0)) { skipped++; continue; }
            var recItems = history.Select(i => recommenderId[i]).ToArray();
            var titles = history.Select(catalog.Title).ToList();
            long key = keyBase + 2L * index;
            if (task != InterpretTask.Residual)
            {
                var target = PromptBuilder.Join(titles, ItemListStyle.Comma);
                examples.Add(Checked(new InterpretationExample(InterpretTask.Recovery, e.User, recovery.Ids, recovery.Slots, [new StateRequest(recItems, key)],
                    PromptTokenization.Response(tokenizer, target), target, titles), maxTokens, sourceName, index));
            }
            if (task != InterpretTask.Recovery)
            {
                var after = recItems.Append(recommenderId[e.Target]).ToArray();
                after = after[Math.Max(0, after.Length - window)..];
                var target = catalog.Title(e.Target);
                examples.Add(Checked(new InterpretationExample(InterpretTask.Residual, e.User, residual.Ids, residual.Slots,
                    [new StateRequest(recItems, key), new StateRequest(after, key + 1)], PromptTokenization.Response(tokenizer, target), target, titles),
                    maxTokens, sourceName, index));
            }
        }
        return (examples, skipped);
    }

    private static InterpretationExample Checked(InterpretationExample e, int maxTokens, string sourceName, int index) =>
        e.Length <= maxTokens ? e
        : throw new ArgumentException($"{sourceName}: example {index} (user {e.User}, {e.Task.ToString().ToLowerInvariant()}): the prompt ({e.Prompt.Length} tokens) and the " +
            $"target ({e.Response.Length} tokens) exceed the LM's context of {maxTokens} tokens (max_position_embeddings); targets are never cut, so use an LM " +
            "with a longer context or fewer history items (--set max_history=N)");
}
