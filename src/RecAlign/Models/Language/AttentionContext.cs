using static TorchSharp.torch;

namespace RecAlign.Models.Language;

/// <summary>What every layer of one forward pass shares: rotary tables for the step's positions, the attention mask
/// (null means plain causal attention over the new tokens) and the KV cache to read and extend.</summary>
internal sealed record AttentionContext(Tensor Cos, Tensor Sin, Tensor? Mask, KvCache? Cache);
