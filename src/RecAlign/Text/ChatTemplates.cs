using System.Text;
using System.Text.RegularExpressions;

namespace RecAlign.Text;

/// <summary>One chat turn. Roles: "system", "user", "assistant".</summary>
public sealed record ChatMessage(string Role, string Content)
{
    public static ChatMessage System(string content) => new("system", content);
    public static ChatMessage User(string content) => new("user", content);
    public static ChatMessage Assistant(string content) => new("assistant", content);
}

/// <summary>Renders chat turns to the text an instruct checkpoint was trained on. The result contains special-token
/// strings (matched as whole tokens by the HF tokenizer) but never BOS: encode a sequence start with
/// <c>addBos: true</c> for every template, which gives HF's ids for Llama-3 and adds nothing for Qwen2/SmolLM.</summary>
public interface IChatTemplate
{
    string Name { get; }
    /// <summary>Token text closing each turn (e.g. <c>&lt;|im_end|&gt;</c>); generation should stop on it.</summary>
    string EndOfTurn { get; }
    /// <summary>Renders all messages; with <paramref name="addGenerationPrompt"/>, appends the opening of an
    /// assistant turn so the model continues with the answer.</summary>
    string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt);
}

/// <summary>ChatML (Qwen2, SmolLM): <c>&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n</c>.</summary>
public sealed class ChatMlTemplate(string? defaultSystemPrompt = null) : IChatTemplate
{
    /// <summary>System message inserted when the conversation has none (Qwen2 and SmolLM2 templates do this).</summary>
    public string? DefaultSystemPrompt { get; } = defaultSystemPrompt;
    public string Name => "chatml";
    public string EndOfTurn => "<|im_end|>";

    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var sb = new StringBuilder();
        if (DefaultSystemPrompt is not null && (messages.Count == 0 || messages[0].Role != "system"))
            Turn(sb, "system", DefaultSystemPrompt);
        foreach (var m in messages) Turn(sb, ChatTemplates.CheckRole(m.Role), m.Content);
        if (addGenerationPrompt) sb.Append("<|im_start|>assistant\n");
        return sb.ToString();
    }

    private static void Turn(StringBuilder sb, string role, string content) =>
        sb.Append("<|im_start|>").Append(role).Append('\n').Append(content).Append("<|im_end|>\n");
}

/// <summary>Llama-3 header style: <c>&lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;\n\ncontent&lt;|eot_id|&gt;</c>.
/// HF's template starts with <c>&lt;|begin_of_text|&gt;</c>; here that BOS comes from <c>Encode(addBos: true)</c>.</summary>
public sealed class Llama3ChatTemplate : IChatTemplate
{
    public string Name => "llama3";
    public string EndOfTurn => "<|eot_id|>";

    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var sb = new StringBuilder();
        foreach (var m in messages)
        {
            // The reference template trims each message's content.
            sb.Append("<|start_header_id|>").Append(ChatTemplates.CheckRole(m.Role)).Append("<|end_header_id|>\n\n")
              .Append(m.Content.Trim()).Append("<|eot_id|>");
        }
        if (addGenerationPrompt) sb.Append("<|start_header_id|>assistant<|end_header_id|>\n\n");
        return sb.ToString();
    }
}

/// <summary>Picks a chat template from the special tokens a tokenizer defines.</summary>
public static class ChatTemplates
{
    internal static string CheckRole(string role) => role is "system" or "user" or "assistant"
        ? role
        : throw new ArgumentException($"Unknown chat role '{role}' (expected system, user or assistant).");

    /// <summary>ChatML when <c>&lt;|im_start|&gt;</c> exists, Llama-3 when <c>&lt;|start_header_id|&gt;</c> exists, else null.
    /// <paramref name="jinjaTemplate"/> (tokenizer_config's chat_template) supplies ChatML's default system prompt.</summary>
    public static IChatTemplate? Detect(Func<string, bool> hasToken, string? jinjaTemplate = null)
    {
        if (hasToken("<|im_start|>") && hasToken("<|im_end|>"))
            return new ChatMlTemplate(DefaultSystemPrompt(jinjaTemplate));
        if (hasToken("<|start_header_id|>") && hasToken("<|end_header_id|>") && hasToken("<|eot_id|>"))
            return new Llama3ChatTemplate();
        return null;
    }

    /// <summary>Finds a literal default system turn in a ChatML Jinja template, as Qwen2 and SmolLM2 write it.</summary>
    internal static string? DefaultSystemPrompt(string? jinja)
    {
        if (string.IsNullOrEmpty(jinja)) return null;
        var m = Regex.Match(jinja, @"<\|im_start\|>system(?:\\n|\n)([^'""{}<]+)<\|im_end\|>");
        return m.Success ? m.Groups[1].Value.Replace("\\n", "\n") : null;
    }
}
