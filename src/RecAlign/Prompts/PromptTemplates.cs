namespace RecAlign.Prompts;

/// <summary>Built-in template sets, modelled on S-DPO's LastFM (music) and MovieLens (movie) prompts: several
/// phrasings of "given this history, pick the next item from these candidates", one sampled per example.</summary>
public static class PromptTemplates
{
    public static readonly IReadOnlyList<PromptTemplate> Music = Make(
        "This user has listened to {history} in the previous. Given the following list of artists: {candidates}, recommend one artist that this user might like to listen to next from the list. Answer:",
        "This person has recently listened to music by {history}. Which band or artist will this person listen to next? Choose one from these {count} options: {candidates}. Answer:",
        "After listening to {history}, which artist do you think this person will play next? Pick from: {candidates}. Answer:",
        "The listening history of this person is {history}. Predict the next artist from the candidates {candidates}. Answer:",
        "Based on recent listening of {history}, which one of these artists should be recommended next: {candidates}? Answer:");

    public static readonly IReadOnlyList<PromptTemplate> Movie = Make(
        "This user has watched {history} in the previous. Given the following list of movies: {candidates}, recommend one movie that this user might like to watch next from the list. Answer:",
        "This person has recently watched {history}. Which movie will this person watch next? Choose one from these {count} titles: {candidates}. Answer:",
        "After watching {history}, which film do you think this person will choose next? Pick from: {candidates}. Answer:",
        "The viewing history of this person is {history}. Predict the next movie from the candidates {candidates}. Answer:",
        "Based on the previously watched {history}, which one of these movies should be recommended next: {candidates}? Answer:");

    /// <summary>Domain-neutral wording (synthetic data, games, books...).</summary>
    public static readonly IReadOnlyList<PromptTemplate> Item = Make(
        "This user has interacted with {history} in the previous. Given the following list of items: {candidates}, recommend one item that this user might like next from the list. Answer:",
        "This person recently chose {history}. Which item will this person choose next? Pick one of these {count} options: {candidates}. Answer:",
        "History: {history}. Candidates: {candidates}. The next item is:",
        "Given the history {history}, which of the following items comes next: {candidates}? Answer:");

    /// <summary>Hybrid prompts (LLaRA-style): every history title is followed by an embedding slot token.</summary>
    public static readonly IReadOnlyList<PromptTemplate> Hybrid = Make(
        "This user has interacted with {history_embeddings} in the previous. Given the following list of items: {candidates}, recommend one item that this user might like next from the list. Answer:");

    /// <summary>The pretraining format as the prompt: the history's items as a pretraining text writes them, nothing else
    /// (<see cref="PromptTemplate.IsSequence"/>). SFT then continues next-item training instead of teaching a new
    /// format, and preference losses compare the candidates as next items; a pretrained model answers it as it is.</summary>
    public static readonly IReadOnlyList<PromptTemplate> HistorySequence = Make("{history_sequence}");

    /// <summary>A built-in set by name: music, movie, item, hybrid, history.</summary>
    public static IReadOnlyList<PromptTemplate> Named(string name) => name.ToLowerInvariant() switch
    {
        "music" or "lastfm" => Music,
        "movie" or "movielens" => Movie,
        "item" or "generic" or "synthetic" => Item,
        "hybrid" => Hybrid,
        "history" or "sequence" => HistorySequence,
        _ => throw new ArgumentException($"unknown template set '{name}' (known: music, movie, item, hybrid, history)", nameof(name)),
    };

    /// <summary>A built-in set name, or else a template file path.</summary>
    public static IReadOnlyList<PromptTemplate> NamedOrFile(string nameOrPath) =>
        File.Exists(nameOrPath) ? PromptTemplate.Load(nameOrPath) : Named(nameOrPath);

    private static PromptTemplate[] Make(params string[] texts) => texts.Select(t => new PromptTemplate(t)).ToArray();
}
