using RecAlign.Data;
using System.CommandLine;

namespace RecAlign.Cli.Commands;

/// <summary>Options shared by training/eval verbs: a config file, <c>--set key=value</c> overrides, device, seed.</summary>
internal static class CommonOptions
{
    public static Option<string?> Config() => new("--config", "-c") { Description = "JSON or YAML config file" };

    /// <summary><c>--set key=value</c>; <paramref name="example"/> is a real key of the command's config (the default
    /// is one of the pretrain/sft/align stage configs).</summary>
    public static Option<string[]> Set(string example = "training.optimizer.learning_rate=1e-4") => new("--set")
    {
        Description = $"override a config field by its dotted snake_case key, e.g. --set {example} (repeatable; a wrong key lists the valid ones)",
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>An enum option's value, snake_case or kebab-case, any case; an unknown one names the option and the known values.</summary>
    internal static T ParseEnum<T>(string value, string option) where T : struct, Enum
    {
        var normal = value.Replace("_", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal);
        return Enum.TryParse<T>(normal, ignoreCase: true, out var v) && Enum.IsDefined(v) ? v
            : throw new ArgumentException($"{option}: unknown value '{value}' (known: {string.Join(", ", Enum.GetNames<T>().Select(System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName))})");
    }

    /// <summary><c>--item-text title|token|title_token</c>: how items are written for an LM (<see cref="ItemText"/>).</summary>
    public static Option<ItemText?> ItemTextOption(string description) => new("--item-text")
    {
        Description = description,
        CustomParser = r => Enum.TryParse<ItemText>(r.Tokens[0].Value.Replace("_", ""), ignoreCase: true, out var v) && Enum.IsDefined(v) ? v
            : throw new ArgumentException($"--item-text: '{r.Tokens[0].Value}' is not one of title, token, title_token"),
    };

    /// <summary>The prompt template set, one option name for every command (<c>--templates</c> kept as an alias).</summary>
    public static Option<string> Template() => new("--template", "--templates")
    {
        Description = "prompt template set: music, movie, item or hybrid, or a template file (one template per line)",
        DefaultValueFactory = _ => "item",
    };

    private const string DeviceValues = "cpu, cuda or cuda:N";

    /// <summary><c>--device</c>; a value that is not a device, or CUDA on a CPU-only build, is a parse error.</summary>
    public static Option<string> Device()
    {
        var option = new Option<string>("--device") { Description = $"{DeviceValues} (CUDA needs a CUDA libtorch package)", DefaultValueFactory = _ => "cpu" };
        option.Validators.Add(result =>
        {
            try { ParseDevice(result.GetValueOrDefault<string>()); }
            catch (ArgumentException e) { result.AddError(e.Message); }
        });
        return option;
    }

    /// <summary>The torch device for a <c>--device</c> value: <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>, with a clear
    /// error for anything else and when CUDA is asked for but this build has none.</summary>
    public static TorchSharp.torch.Device ParseDevice(string? value)
    {
        var text = string.IsNullOrWhiteSpace(value) ? "cpu" : value.Trim().ToLowerInvariant();
        if (!System.Text.RegularExpressions.Regex.IsMatch(text, @"^(cpu|cuda(:\d+)?)$"))
            throw new ArgumentException($"--device '{value}': unknown device (accepted: {DeviceValues})");
        if (text.StartsWith("cuda", StringComparison.Ordinal))
        {
            if (!TorchSharp.torch.cuda.is_available())
                throw new ArgumentException($"--device {text}: CUDA is not available in this build (it uses the CPU-only libtorch package; reference a CUDA build of libtorch to use a GPU)");
            if (text.Length > 4 && (!int.TryParse(text[5..], System.Globalization.CultureInfo.InvariantCulture, out var n) || n >= TorchSharp.torch.cuda.device_count()))
                throw new ArgumentException($"--device {text}: no such GPU (this machine has {TorchSharp.torch.cuda.device_count()}: cuda:0 to cuda:{TorchSharp.torch.cuda.device_count() - 1})");
        }
        return new TorchSharp.torch.Device(text);
    }

    /// <summary><c>--overwrite</c>: replace an existing output of the command's own kind (never anything else).</summary>
    public static Option<bool> Overwrite(string kind) => new("--overwrite")
    {
        Description = $"replace an existing {kind} at the output path (a folder holding anything else is always refused)",
    };

    /// <summary>Where run directories and the registry live: $RECALIGN_RUNS_DIR or ./runs. The help shows the
    /// resolved default, so the description only says where it comes from.</summary>
    public static Option<string> RunsDir() => new("--runs-dir")
    {
        Description = $"folder holding run folders and the registry (${RecAlign.Runs.RunDirectory.RunsDirVariable} sets the default)",
        DefaultValueFactory = _ => RecAlign.Runs.RunDirectory.DefaultRunsDir,
    };

    public static Option<int?> Threads() => Positive(new Option<int?>("--threads") { Description = "CPU threads for libtorch (default: all cores)" });

    /// <summary>Rejects a given value ≤ 0 at parse time with an error naming the option.</summary>
    public static Option<int> Positive(Option<int> option)
    {
        option.Validators.Add(r =>
        {
            if (r.Tokens.Count > 0 && r.GetValueOrDefault<int>() <= 0)
                r.AddError($"{option.Name} must be greater than 0 (got {r.GetValueOrDefault<int>()})");
        });
        return option;
    }

    /// <inheritdoc cref="Positive(Option{int})"/>
    public static Option<int?> Positive(Option<int?> option)
    {
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is int v && v <= 0) r.AddError($"{option.Name} must be greater than 0 (got {v})");
        });
        return option;
    }

    public static void ApplyThreads(int? threads)
    {
        if (threads is > 0) TorchSharp.torch.set_num_threads(threads.Value);
    }

    public static string Version =>
        System.Reflection.CustomAttributeExtensions.GetCustomAttribute<System.Reflection.AssemblyInformationalVersionAttribute>(typeof(CommonOptions).Assembly)?.InformationalVersion
        ?? typeof(CommonOptions).Assembly.GetName().Version?.ToString() ?? "unknown";

    public static Command Placeholder()
    {
        var c = new Command("version", "print the version");
        // The same text as --version: the informational version (1.0.0+commit), not the 4-part assembly version.
        c.SetAction(_ => { Console.WriteLine(Version); return 0; });
        return c;
    }
}
