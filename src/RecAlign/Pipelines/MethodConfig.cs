using RecAlign.Alignment;
using RecAlign.Models.Sequential;
using RecAlign.Pipelines.Stages;

namespace RecAlign.Pipelines;

/// <summary>What trains a method of the pipeline.</summary>
public enum MethodStage
{
    /// <summary>A classic sequential recommender (<see cref="MethodConfig.Sequential"/>) on every training prefix.</summary>
    Sequential,
    /// <summary>The LM: pretraining from scratch, then SFT on candidate prompts (<see cref="PipelineConfig.Pretrain"/>,
    /// <see cref="PipelineConfig.Sft"/>), or an existing SFT model (<see cref="PipelineConfig.SftModel"/>).</summary>
    Sft,
    /// <summary>Preference alignment (<see cref="MethodConfig.Align"/>) of another method's LM (<see cref="MethodConfig.From"/>).</summary>
    Align,
}

/// <summary>
/// One named row of the pipeline's comparison: what trains it, what it starts from, and its stage config. Every row is
/// scored the same way, through the recommender contract, so new methods are configuration: a file or
/// <c>--set pipeline.methods.NAME.FIELD=…</c> adds or changes one (<c>pipeline.methods.gru4rec.enabled=true</c>,
/// <c>pipeline.methods.dpo.align.loss.rpo_alpha=1</c>).
/// </summary>
public sealed record MethodConfig
{
    public MethodStage Stage { get; init; } = MethodStage.Align;
    public bool Enabled { get; init; } = true;
    /// <summary>Align: the method whose model this one starts from (and takes as its reference).</summary>
    public string From { get; init; } = "sft";
    /// <summary>Align: rejected responses per preference example (1: the pairwise DPO family; K &gt; 1: S-DPO's softmax over K).</summary>
    public int Negatives { get; init; } = 1;
    public AlignConfig Align { get; init; } = new();
    /// <summary>Sft / align: train with IFairLRS's per-sample group weights (<see cref="Data.GroupWeights"/>, groups of
    /// <c>pipeline.fairness</c>): each sample's own loss is scaled by its target group's history share over its target
    /// share, normalised to mean 1.</summary>
    public bool FairnessWeights { get; init; }
    public SequentialTrainConfig Sequential { get; init; } = new();
    /// <summary>Align: the share of preference examples whose chosen and first rejected responses are swapped (seeded):
    /// injected label noise, to measure how a loss degrades (Dr.DPO's experiment). 0: the data as mined.</summary>
    public double LabelNoise { get; init; }
    /// <summary>Sft: LLaRA's hybrid prompts: the name of a sequential method listed before this one whose item
    /// embeddings, through a trained projector, replace the LM's item-token embeddings (needs item tokens:
    /// <c>item_text</c> token or title_token). Empty: the text-only LM. Align methods from it inherit the embeddings.</summary>
    public string Hybrid { get; init; } = "";
    /// <summary>Sft with <see cref="Hybrid"/>: which batches use the hybrid embeddings during training (evaluation always does).</summary>
    public Training.HybridSchedule HybridSchedule { get; init; } = Training.HybridSchedule.Curriculum;
    /// <summary>Sft with <see cref="Hybrid"/>: <c>replace</c> (LLaRA: the projected embedding replaces the item token's
    /// row) or <c>add</c> (added to it, from zero: learned item tokens and the recommender's embeddings both).</summary>
    public Models.Language.HybridCombine HybridCombine { get; init; } = Models.Language.HybridCombine.Replace;

    public static MethodConfig SequentialModel(string model, bool enabled = true) => new()
    {
        Stage = MethodStage.Sequential, Enabled = enabled, From = "",
        Sequential = SequentialTrainConfig.For(model),
    };

    /// <summary>The default rows: SASRec (GRU4Rec, Caser, BPR-MF and DreamRec present but off), SFT, DPO (one rejected) and S-DPO
    /// (three), both with β = 1 as in the S-DPO paper's comparison; CausalDPO (S-DPO's three negatives and β) present but off.</summary>
    public static Dictionary<string, MethodConfig> Defaults() => new()
    {
        ["sasrec"] = SequentialModel("sasrec"),
        ["gru4rec"] = SequentialModel("gru4rec", enabled: false),
        ["caser"] = SequentialModel("caser", enabled: false),
        ["bprmf"] = SequentialModel("bprmf", enabled: false),
        ["dreamrec"] = SequentialModel("dreamrec", enabled: false),
        ["sft"] = new() { Stage = MethodStage.Sft, From = "" },
        ["dpo"] = new() { Negatives = 1, Align = new AlignConfig { Loss = new PreferenceLossConfig { LossType = "dpo", Beta = 1.0 } } },
        ["sdpo"] = new() { Negatives = 3, Align = new AlignConfig { Loss = new PreferenceLossConfig { LossType = "sdpo", Beta = 1.0 } } },
        ["causaldpo"] = new() { Enabled = false, Negatives = 3, Align = new AlignConfig { Loss = new PreferenceLossConfig { LossType = "causaldpo", Beta = 1.0 } } },
    };
}
