namespace RecAlign.IO;

/// <summary>What an output folder holds when RecAlign wrote it: a name for messages and a test on an existing
/// folder. Only a folder the test recognises may be replaced, and only when the user asks (<c>--overwrite</c>).</summary>
public sealed record OutputKind(string Name, Func<string, bool> Recognizes)
{
    /// <summary>Any safetensors checkpoint (a model directory, a trainer's step checkpoint, adapters).</summary>
    public static readonly OutputKind Checkpoint = new("checkpoint", d => Directory.EnumerateFiles(d, "*.safetensors*").Any());

    /// <summary>A model directory (a language model or a sequential recommender): <c>config.json</c> beside safetensors.</summary>
    public static readonly OutputKind ModelDirectory = new("model directory", d =>
        File.Exists(Path.Combine(d, "config.json")) && Checkpoint.Recognizes(d));

    /// <summary>An interpreter directory (<c>recalign interpret</c>): its adapter config beside safetensors.</summary>
    public static readonly OutputKind Interpreter = new("interpreter directory", d =>
        File.Exists(Path.Combine(d, "interpreter_config.json")) && Checkpoint.Recognizes(d));

    /// <summary>A canonical dataset folder (<c>data prepare</c>, <c>data synth</c>).</summary>
    public static readonly OutputKind Dataset = new("dataset folder", d => File.Exists(Path.Combine(d, "dataset.json")));

    /// <summary>A candidate-list bundle (<c>data candidates</c>, <c>data export</c>).</summary>
    public static readonly OutputKind CandidateBundle = new("candidate-list folder", d => File.Exists(Path.Combine(d, "id2name.txt")));

    /// <summary>A sweep folder (<c>recalign sweep</c>): its state file, or the lock of one killed before writing it.</summary>
    public static readonly OutputKind Sweep = new("sweep folder", d => File.Exists(Path.Combine(d, "sweep.json")) || File.Exists(Path.Combine(d, "sweep.lock")));
}

/// <summary>
/// The one check every command makes on its output paths before it reads or writes anything, so that no command
/// can delete what the user did not ask to replace: an output folder must be new, empty, or a RecAlign output of the
/// same kind with <c>--overwrite</c>; it may never equal or contain an input, the runs folder or the working
/// directory (replacing it would delete them); an output file may not be an input. Paths are compared after
/// resolving symbolic links.
/// </summary>
public static class OutputGuard
{
    /// <param name="option">the option as the user typed it (<c>--out</c>), for messages.</param>
    /// <param name="protectedPaths">inputs and other folders the output must not equal or contain (label, path);
    /// null paths are ignored. The working directory is always protected.</param>
    /// <param name="replaceOwn">an existing output of the same kind may be replaced without <paramref name="overwrite"/>
    /// (a resumed run replacing what it wrote before it was interrupted).</param>
    /// <returns>the full path.</returns>
    public static string CheckDirectory(string option, string path, OutputKind kind, bool overwrite,
        IEnumerable<(string Label, string? Path)> protectedPaths, bool replaceOwn = false)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new ArgumentException($"{option}: empty path");
        var full = Canonical(path);
        if (Path.GetDirectoryName(full) is null) throw new ArgumentException($"{option} {path}: the file system root cannot be an output folder");
        foreach (var (label, other) in protectedPaths.Prepend(("the working directory", Environment.CurrentDirectory)))
        {
            if (other is null) continue;
            var o = Canonical(other);
            if (SameOrInside(o, full))
                throw new ArgumentException(o == full
                    ? $"{option} {path}: that is {label} ({o}); writing there would replace it: choose another folder"
                    : $"{option} {path}: that folder contains {label} ({o}); writing there would delete it: choose another folder");
        }
        if (File.Exists(full)) throw new ArgumentException($"{option} {path}: a file of that name exists (an output folder is expected there)");
        // A write of this output killed half way left its new copy aside (deleted) or its old copy aside (put back).
        AtomicFile.RecoverDirectory(full);
        if (!Directory.Exists(full) || !Directory.EnumerateFileSystemEntries(full).Any()) return full;
        if (!kind.Recognizes(full))
        {
            var entries = Directory.EnumerateFileSystemEntries(full).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
            var shown = string.Join(", ", entries.Take(5)) + (entries.Count > 5 ? $", … ({entries.Count} entries)" : "");
            throw new ArgumentException($"{option} {path}: the folder is not empty ({shown}) and is not a RecAlign {kind.Name}; " +
                "nothing was written: choose a new or empty folder");
        }
        if (!overwrite && !replaceOwn)
            throw new ArgumentException($"{option} {path}: a {kind.Name} is already there; pass --overwrite to replace it, or choose another folder");
        return full;
    }

    /// <summary>Checks an output file: not a folder, and not one of the inputs (writing it would destroy the input).</summary>
    public static string CheckFile(string option, string path, IEnumerable<(string Label, string? Path)> inputs)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new ArgumentException($"{option}: empty path");
        var full = Canonical(path);
        if (Directory.Exists(full)) throw new ArgumentException($"{option} {path}: that is a folder (a file name is expected)");
        foreach (var (label, other) in inputs)
            if (other is not null && Canonical(other) == full)
                throw new ArgumentException($"{option} {path}: that is {label}; writing there would replace it: choose another file");
        return full;
    }

    /// <summary>A name that becomes one path component (a dataset name, a file prefix): no separators, not <c>.</c>
    /// or <c>..</c>, no control characters.</summary>
    public static string SafeName(string option, string name)
    {
        if (string.IsNullOrWhiteSpace(name) || name is "." or ".." || name.IndexOfAny(['/', '\\', '\0']) >= 0
            || name.Any(char.IsControl) || name.Length > 200 || name != name.Trim())
            throw new ArgumentException($"{option} '{name}': not a usable name (one folder name: no '/', '\\', control characters or surrounding spaces, not '.' or '..', at most 200 characters)");
        return name;
    }

    /// <summary>The full path with every existing symbolic link on the way resolved.</summary>
    public static string Canonical(string path) => Canonical(path, 0);

    private static string Canonical(string path, int depth)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        if (depth > 40) return full; // a link loop: the OS refuses the path anyway
        var root = Path.GetPathRoot(full)!;
        var current = root;
        foreach (var part in full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            current = Path.Combine(current, part);
            FileSystemInfo info = Directory.Exists(current) ? new DirectoryInfo(current) : new FileInfo(current);
            if (info.Exists && info.LinkTarget is { } target)
                current = Canonical(Path.GetFullPath(target, Path.GetDirectoryName(current)!), depth + 1);
        }
        return current;
    }

    private static bool SameOrInside(string inner, string outer) =>
        inner == outer || inner.StartsWith(outer.EndsWith(Path.DirectorySeparatorChar) ? outer : outer + Path.DirectorySeparatorChar, StringComparison.Ordinal);
}
