using System.IO.Compression;

namespace RecAlign.Data.Formats;

/// <summary>Atomic file output (temp file in the same folder, then rename) and transparent gzip by extension.</summary>
public static class AtomicFile
{
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
                if (IsGzip(full))
                {
                    using var gz = new GZipStream(file, CompressionLevel.Optimal, leaveOpen: true);
                    write(gz);
                }
                else write(file);
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

    /// <summary>Opens <paramref name="path"/> for reading, decompressing <c>.gz</c> files.</summary>
    public static Stream OpenRead(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"file not found: {path}", path);
        Stream s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return IsGzip(path) ? new GZipStream(s, CompressionMode.Decompress) : s;
    }

    public static bool IsGzip(string path) => path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);
}
