using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RecAlign.Bench;

/// <summary>Shared plumbing: argument parsing, RSS readings, JSON + markdown output.</summary>
internal static class BenchOutput
{
    public static bool Flag(string[] args, string name) => args.Contains(name);

    public static string? Value(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    /// <summary>Current resident set size in MB (from /proc on Linux).</summary>
    public static double RssMb()
    {
        using var p = Process.GetCurrentProcess();
        p.Refresh();
        return p.WorkingSet64 / 1048576.0;
    }

    public static double PeakRssMb()
    {
        using var p = Process.GetCurrentProcess();
        p.Refresh();
        return p.PeakWorkingSet64 / 1048576.0;
    }

    public static JsonObject Machine() => new()
    {
        ["cores"] = Environment.ProcessorCount,
        ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
        ["cpu"] = CpuModel(),
        ["date_utc"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"),
    };

    private static string CpuModel()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? "unknown";
        }
        catch (IOException) { return "unknown"; }
    }

    /// <summary>Writes the JSON result (to --out, atomically) and a markdown table next to it, and prints the table.</summary>
    public static void Write(string[] args, string name, JsonObject result, IEnumerable<(string Metric, string Value)> rows)
    {
        var table = new StringBuilder();
        table.AppendLine($"| {name} | value |").AppendLine("|---|---|");
        foreach (var (m, v) in rows) table.AppendLine($"| {m} | {v} |");
        Console.WriteLine();
        Console.WriteLine(table);
        var outPath = Value(args, "--out");
        if (outPath is null) return;
        var dir = Path.GetDirectoryName(Path.GetFullPath(outPath))!;
        Directory.CreateDirectory(dir);
        WriteAtomic(outPath, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        WriteAtomic(Path.ChangeExtension(outPath, ".md"), table.ToString());
        Console.WriteLine($"wrote {outPath} and {Path.ChangeExtension(outPath, ".md")}");
    }

    private static void WriteAtomic(string path, string text)
    {
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
    }
}
