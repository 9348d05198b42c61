using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using RecAlign.IO;

namespace RecAlign.Bench;

/// <summary>gzip-read [--quick] [--out FILE.json]: decompression throughput of RecAlign's verified gzip reader
/// (SharpZipLib: every member's CRC-32 and length checked) against .NET's GZipStream (zlib, no trailer check), on a
/// generated ratings-like text file; the cost of refusing truncated inputs.</summary>
internal static class GzipReadBench
{
    public static int Run(string[] args)
    {
        bool quick = args.Contains("--quick");
        int rows = quick ? 1_000_000 : 5_000_000;
        var path = Path.Combine(Path.GetTempPath(), $"recalign-bench-{Guid.NewGuid():N}.dat.gz");
        try
        {
            var text = new StringBuilder();
            var rng = new Random(3);
            for (int i = 0; i < rows; i++) text.Append(i / 100).Append("::").Append(rng.Next(10_000)).Append("::").Append(1 + rng.Next(5)).Append("::").Append(978_300_000 + i).Append('\n');
            var bytes = Encoding.ASCII.GetBytes(text.ToString());
            using (var f = File.Create(path))
            using (var gz = new GZipStream(f, CompressionLevel.Optimal)) gz.Write(bytes);
            double mb = bytes.Length / 1e6;

            double Time(Func<Stream> open)
            {
                var best = double.MaxValue;
                var buffer = new byte[1 << 16];
                for (int rep = 0; rep < 3; rep++)
                {
                    var sw = Stopwatch.StartNew();
                    long n = 0;
                    using (var s = open()) for (int r; (r = s.Read(buffer)) > 0;) n += r;
                    if (n != bytes.Length) throw new InvalidOperationException($"read {n} of {bytes.Length} bytes");
                    best = Math.Min(best, sw.Elapsed.TotalSeconds);
                }
                return best;
            }
            double dotnet = Time(() => new GZipStream(File.OpenRead(path), CompressionMode.Decompress));
            double verified = Time(() => AtomicFile.OpenRead(path));
            var result = new JsonObject
            {
                ["bench"] = "gzip-read", ["machine"] = BenchOutput.Machine(), ["uncompressed_mb"] = mb, ["compressed_mb"] = new FileInfo(path).Length / 1e6,
                ["dotnet_gzipstream_mb_per_s"] = mb / dotnet, ["verified_mb_per_s"] = mb / verified, ["verified_over_dotnet_time"] = verified / dotnet,
            };
            BenchOutput.Write(args, "gzip-read", result,
            [
                ("uncompressed text", $"{mb:F0} MB ({rows:N0} rows)"),
                (".NET GZipStream (zlib, no CRC/length check)", $"{mb / dotnet:F0} MB/s"),
                ("RecAlign verified reader (SharpZipLib, CRC-32 + length per member)", $"{mb / verified:F0} MB/s"),
                ("time ratio verified / .NET", $"{verified / dotnet:F2}x"),
            ]);
            return 0;
        }
        finally { File.Delete(path); }
    }
}
