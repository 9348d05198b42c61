using System.Runtime.CompilerServices;

namespace RecAlign.Tests;

internal static class TestSetup
{
    /// <summary>xunit runs test classes in parallel (one per core); libtorch's own threads on top of that
    /// oversubscribe the cores and its spinning workers then slow everything down several-fold. One libtorch thread
    /// per test keeps the suite fast and its timings stable.</summary>
    [ModuleInitializer]
    internal static void SingleThreadedTorch() => TorchSharp.torch.set_num_threads(1);
}
