namespace RecAlign.Bench;

/// <summary>Named benchmarks; each takes its own arguments and writes JSON + a markdown table.</summary>
internal static class BenchCatalog
{
    public static readonly Dictionary<string, Func<string[], int>> All = new()
    {
        ["engine"] = EngineBench.Run,
        ["align-step"] = AlignStepBench.Run,
        ["candidate-scoring"] = CandidateScoringBench.Run,
        ["generation"] = GenerationBench.Run,
        ["optimizer"] = OptimizerBench.Run,
        ["data"] = DataPrepBench.Run,
        ["candidates"] = CandidatesBench.Run,
        ["evaluation"] = EvaluationBench.Run,
        ["sequential"] = SequentialBench.Run,
        ["dreamrec-sampling"] = DreamRecBench.Run,
        ["item-ranking"] = ItemRankingBench.Run,
        ["safetensors-io"] = CheckpointTokenizerBench.SafetensorsIo,
        ["tokenizer-encode"] = CheckpointTokenizerBench.TokenizerEncode,
        ["gzip-read"] = GzipReadBench.Run,
        ["title-tokenization"] = TitleTokenizationBench.Run,
        ["serve-load"] = ServeLoadBench.Run,
        ["lm-recipe"] = LmRecipeDiagnostic.Run,
    };
}
