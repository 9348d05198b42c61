namespace RecAlign.Tests.Data;

/// <summary>A fact that needs files under /work/shared/data (or $RECALIGN_SHARED_DATA): skipped with a message
/// naming the missing path when they are absent.</summary>
public sealed class SharedDataFactAttribute : FactAttribute
{
    public SharedDataFactAttribute(params string[] relativePaths)
    {
        var missing = relativePaths.Where(p => !File.Exists(SharedData.Path(p)) && !Directory.Exists(SharedData.Path(p))).ToList();
        if (missing.Count > 0) Skip = $"shared data not present: {string.Join(", ", missing.Select(SharedData.Path))}";
    }
}

public static class SharedData
{
    public static string Root
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("RECALIGN_SHARED_DATA");
            if (!string.IsNullOrEmpty(env)) return env;
            // The repository sits beside shared/ (../shared/data), or the machine has /work/shared/data.
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var candidate = System.IO.Path.Combine(dir.FullName, "shared", "data");
                if (Directory.Exists(candidate)) return candidate;
            }
            return "/work/shared/data";
        }
    }

    public static string Path(string relative) => System.IO.Path.Combine(Root, relative);
}
