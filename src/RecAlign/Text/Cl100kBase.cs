using System.IO.Compression;
using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace RecAlign.Text;

/// <summary>The cl100k_base encoding shipped offline in Microsoft.ML.Tokenizers.Data.Cl100kBase: a tokenizer without
/// special tokens plus the byte string of every rank (the library keeps its own table internal).</summary>
internal static class Cl100kBase
{
    /// <summary>Number of mergeable ranks (ids 0..RankCount-1); cl100k's special tokens start above them.</summary>
    public const int RankCount = 100256;

    // tiktoken's cl100k_base split pattern.
    internal const string Pattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private static readonly Lazy<byte[]> RawFile = new(LoadRaw);
    private static readonly Lazy<Table> Tables = new(ParseTable);
    private static readonly Lazy<TiktokenTokenizer> Tok = new(() =>
    {
        using var stream = new MemoryStream(RawFile.Value, writable: false);
        return TiktokenTokenizer.Create(stream, new RegexPreTokenizer(new Regex(Pattern, RegexOptions.Compiled), null), null, null);
    });

    /// <summary>cl100k tokenizer that treats every input as plain text (no special tokens are recognised).</summary>
    public static TiktokenTokenizer Tokenizer => Tok.Value;

    /// <summary>UTF-8 bytes of each rank.</summary>
    public static byte[][] TokenBytes => Tables.Value.Bytes;

    /// <summary>Rank of the single-byte token for each byte value.</summary>
    public static int[] ByteToRank => Tables.Value.ByteToRank;

    private sealed record Table(byte[][] Bytes, int[] ByteToRank);

    private static byte[] LoadRaw()
    {
        const string assemblyName = "Microsoft.ML.Tokenizers.Data.Cl100kBase";
        const string resource = "cl100k_base.tiktoken.deflate";
        var asm = Assembly.Load(assemblyName);
        using var compressed = asm.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"{assemblyName} has no resource '{resource}'.");
        using var inflate = new DeflateStream(compressed, CompressionMode.Decompress);
        using var buffer = new MemoryStream();
        inflate.CopyTo(buffer);
        return buffer.ToArray();
    }

    private static Table ParseTable()
    {
        var bytes = new byte[RankCount][];
        using var reader = new StreamReader(new MemoryStream(RawFile.Value, writable: false));
        int next = 0;
        int lineNo = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNo++;
            if (line.Length == 0 || line.StartsWith("Capacity:", StringComparison.Ordinal)) continue;
            // Lines are "base64 [rank]"; without a rank, ranks are consecutive.
            int space = line.IndexOf(' ');
            int rank = space < 0 ? next : int.Parse(line.AsSpan(space + 1), System.Globalization.CultureInfo.InvariantCulture);
            var token = Convert.FromBase64String(space < 0 ? line : line[..space]);
            if (rank < 0 || rank >= RankCount)
                throw new InvalidDataException($"cl100k_base data line {lineNo}: rank {rank} outside 0..{RankCount - 1}.");
            bytes[rank] = token;
            next = rank + 1;
        }
        var byteToRank = Enumerable.Repeat(-1, 256).ToArray();
        for (int r = 0; r < RankCount; r++)
        {
            if (bytes[r] is null) throw new InvalidDataException($"cl100k_base data: rank {r} is missing.");
            if (bytes[r].Length == 1) byteToRank[bytes[r][0]] = r;
        }
        if (Array.IndexOf(byteToRank, -1) is var missing and >= 0)
            throw new InvalidDataException($"cl100k_base data: no single-byte token for byte {missing}.");
        return new Table(bytes, byteToRank);
    }
}
