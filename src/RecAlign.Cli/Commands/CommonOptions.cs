using System.CommandLine;

namespace RecAlign.Cli.Commands;

/// <summary>Options shared by training/eval verbs: a config file, <c>--set key=value</c> overrides, device, seed.</summary>
internal static class CommonOptions
{
    public static Option<string?> Config() => new("--config", "-c") { Description = "JSON or YAML config file" };

    public static Option<string[]> Set() => new("--set")
    {
        Description = "override a config field, e.g. --set learning_rate=3e-4 (repeatable)",
        AllowMultipleArgumentsPerToken = false,
    };

    public static Option<string> Device() => new("--device") { Description = "cpu or cuda", DefaultValueFactory = _ => "cpu" };

    /// <summary>Where run directories and the registry live: $RECALIGN_RUNS_DIR or ./runs.</summary>
    public static Option<string> RunsDir() => new("--runs-dir")
    {
        Description = $"folder holding run folders and the registry (default: ${RecAlign.Runs.RunDirectory.RunsDirVariable} or ./runs)",
        DefaultValueFactory = _ => RecAlign.Runs.RunDirectory.DefaultRunsDir,
    };

    public static Option<int?> Threads() => new("--threads") { Description = "CPU threads for libtorch (default: all cores)" };

    public static void ApplyThreads(int? threads)
    {
        if (threads is > 0) TorchSharp.torch.set_num_threads(threads.Value);
    }

    public static Command Placeholder()
    {
        var c = new Command("version", "print the version");
        c.SetAction(_ => { Console.WriteLine(typeof(CommonOptions).Assembly.GetName().Version); return 0; });
        return c;
    }
}
