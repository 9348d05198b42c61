using System.Text;

namespace RecAlign.Tests.Data;

/// <summary>A temporary folder for a test's input files, deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "recalign-test-" + Guid.NewGuid().ToString("N"));

    public TempDir() => Directory.CreateDirectory(Path);

    public string Write(string name, string text) => WriteBytes(name, Encoding.UTF8.GetBytes(text));

    public string WriteBytes(string name, byte[] bytes)
    {
        var p = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(p)!);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    public string Sub(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Where the shared benchmark data live (../shared/data from the repository, or /work/shared/data).</summary>
internal static class SharedData
{
    public static string? Root { get; } = Find();

    private static string? Find()
    {
        var env = Environment.GetEnvironmentVariable("RECALIGN_SHARED_DATA");
        if (!string.IsNullOrEmpty(env) && Directory.Exists(env)) return env;
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var candidate = System.IO.Path.Combine(d.FullName, "shared", "data");
            if (File.Exists(System.IO.Path.Combine(candidate, "README.md"))) return candidate;
        }
        return Directory.Exists("/work/shared/data") ? "/work/shared/data" : null;
    }

    public static string PathOf(string relative) => System.IO.Path.Combine(Root!, relative);
}

/// <summary>A fact that is skipped, with a message naming the missing folder, when the shared data are absent.
/// (xunit 2.9 has no dynamic skip; setting Skip in the attribute's constructor is the supported way.)</summary>
public sealed class SharedDataFactAttribute : FactAttribute
{
    public SharedDataFactAttribute(params string[] required)
    {
        if (SharedData.Root is null)
            Skip = "shared benchmark data not found (set RECALIGN_SHARED_DATA or provide ../shared/data)";
        else
            foreach (var r in required)
                if (!File.Exists(SharedData.PathOf(r)) && !Directory.Exists(SharedData.PathOf(r)))
                {
                    Skip = $"shared data file missing: {SharedData.PathOf(r)}";
                    break;
                }
    }
}
