using System.IO.Compression;

namespace RecAlign.IO;

/// <summary>The one way RecAlign writes files and directories: readers never see a half-written one (temp file or
/// directory in the same folder, then a rename, which is atomic within a file system), and <c>.gz</c> paths are
/// compressed and decompressed transparently.</summary>
public static class AtomicFile
{
    public static void WriteAllText(string path, string text) => WriteAllBytes(path, new System.Text.UTF8Encoding(false).GetBytes(text));

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        var copy = bytes.ToArray();
        Write(path, s => s.Write(copy));
    }

    /// <summary>Writes <paramref name="path"/> through <paramref name="write"/>; a <c>.gz</c> path is gzip-compressed.
    /// The file appears only once complete.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var file = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                // Callers may dispose what they get (a StreamWriter without leaveOpen); the file must stay open for
                // the flush to disk, so they get a view that ignores Dispose.
                var view = new KeepOpenStream(file);
                if (IsGzip(full))
                {
                    using var gz = new GZipStream(view, CompressionLevel.Optimal, leaveOpen: true);
                    write(gz);
                }
                else write(view);
                file.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { } // best effort: the original error matters
            throw;
        }
    }

    /// <summary>Opens <paramref name="path"/> for reading, decompressing <c>.gz</c> files with every member's CRC-32 and
    /// length checked (.NET's GZipStream ends a truncated file silently, as if it were complete).</summary>
    public static Stream OpenRead(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"file not found: {path}", path);
        Stream s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return IsGzip(path) ? new VerifiedGzipStream(s, Path.GetFullPath(path)) : s;
    }

    public static bool IsGzip(string path) => path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Cleans up after a <see cref="ReplaceDirectory"/> that a killed process left half done in <paramref name="parent"/>:
    /// a <c>{dir}.tmp-{guid}</c> is an unfinished new copy (deleted); a <c>{dir}.old-{guid}</c> is the previous copy,
    /// moved back when <c>{dir}</c> itself is missing (killed between the two renames), else deleted. Call it only
    /// where no other process is replacing directories. Returns what it did, one line each.
    /// </summary>
    public static IReadOnlyList<string> RecoverDirectories(string parent) => Recover(parent, null);

    /// <summary>As <see cref="RecoverDirectories"/>, for the leftovers of one directory only (<c>{dir}.tmp-*</c>,
    /// <c>{dir}.old-*</c>): safe to call before writing an output while other processes write its neighbours.</summary>
    public static IReadOnlyList<string> RecoverDirectory(string directory)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        return Path.GetDirectoryName(full) is { } parent ? Recover(parent, Path.GetFileName(full)) : [];
    }

    /// <summary>Recovers the leftovers in <paramref name="parent"/> (of <paramref name="only"/>, or of every directory).</summary>
    private static List<string> Recover(string parent, string? only)
    {
        var done = new List<string>();
        if (!Directory.Exists(parent)) return done;
        foreach (var path in Directory.GetDirectories(parent, only is null ? "*" : only + ".*").Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(path);
            var match = AbandonedName.Match(name);
            if (!match.Success || (only is not null && match.Groups["name"].Value != only)) continue;
            var original = Path.Combine(parent, match.Groups["name"].Value);
            if (match.Groups["kind"].Value == "old" && !Directory.Exists(original))
            {
                Directory.Move(path, original);
                done.Add($"restored {original} from {name}");
            }
            else
            {
                TryDelete(path);
                done.Add($"deleted the unfinished {name}");
            }
        }
        return done;
    }

    private static readonly System.Text.RegularExpressions.Regex AbandonedName =
        new(@"^(?<name>.+)\.(?<kind>tmp|old)-[0-9a-f]{32}$", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    /// <summary>Builds a directory's full contents in <c>{dir}.tmp-{guid}</c> via <paramref name="fill"/>, then swaps
    /// it in: an existing directory is renamed aside, the new one renamed in, the old one deleted. Readers never
    /// see a half-written directory. Replacing is total, so an existing non-empty directory must be of kind
    /// <paramref name="replaces"/> (when given); anything else, such as a user's folder given as the output, is refused.</summary>
    public static void ReplaceDirectory(string directory, Action<string> fill, OutputKind? replaces = null)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        if (replaces is not null && Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any() && !replaces.Recognizes(full))
            throw new IOException($"{full}: the folder is not empty and is not a {replaces.Name}; it is not replaced (choose a new or empty folder)");
        var parent = Path.GetDirectoryName(full) ?? throw new ArgumentException($"Cannot replace a root directory: {full}");
        Directory.CreateDirectory(parent);
        var tmp = $"{full}.tmp-{Guid.NewGuid():N}";
        Directory.CreateDirectory(tmp);
        try
        {
            fill(tmp);
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }

        if (Directory.Exists(full))
        {
            var old = $"{full}.old-{Guid.NewGuid():N}";
            Directory.Move(full, old);
            try
            {
                Directory.Move(tmp, full);
            }
            catch
            {
                Directory.Move(old, full);
                TryDelete(tmp);
                throw;
            }
            TryDelete(old);
        }
        else
        {
            Directory.Move(tmp, full);
        }
    }

    private static void TryDelete(string dir)
    {
        try { Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private sealed class KeepOpenStream(Stream inner) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
        public override void Write(ReadOnlySpan<byte> buffer) => inner.Write(buffer);
        public override void WriteByte(byte value) => inner.WriteByte(value);
        protected override void Dispose(bool disposing) { if (disposing) inner.Flush(); }
    }
}
