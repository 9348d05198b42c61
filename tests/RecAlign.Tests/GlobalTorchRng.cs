namespace RecAlign.Tests;

/// <summary>Tests whose exact results depend on libtorch's process-wide generator (dropout, sampled negatives, masks after
/// <c>manual_seed</c>): they run alone, since any test running beside them would draw from the same generator.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalTorchRng
{
    public const string Name = "global torch generator";
}
