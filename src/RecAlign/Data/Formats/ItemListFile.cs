using RecAlign.IO;
using System.Text;

namespace RecAlign.Data.Formats;

/// <summary>The <c>id::title</c> item list format of S-DPO/LLaRA (<c>id2name.txt</c>) and CausalDPO
/// (<c>ood_id2name.txt</c>): one item per line, split at the first <c>::</c>. Dense catalog ids follow file order;
/// the file's id becomes <see cref="Item.ExternalId"/>.</summary>
public static class ItemListFile
{
    public static ItemCatalog Read(string path)
    {
        using var stream = AtomicFile.OpenRead(path);
        return Read(stream, Path.GetFullPath(path));
    }

    public static ItemCatalog Read(Stream stream, string fileName)
    {
        using var reader = new RecAlign.Data.Loaders.LineReader(stream, fileName, RecAlign.Data.Loaders.TextEncodingMode.Utf8);
        var items = new List<Item>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (reader.Next())
        {
            var lineNo = reader.LineNumber;
            var line = reader.Text;
            if (line.Length == 0) continue;
            int sep = line.IndexOf("::", StringComparison.Ordinal);
            if (sep < 0) throw new DataFormatException(fileName, lineNo, null, $"expected 'id::title', got '{Clip(line)}'");
            var id = line[..sep].Trim();
            if (id.Length == 0) throw new DataFormatException(fileName, lineNo, "id", "empty item id");
            if (!seen.Add(id)) throw new DataFormatException(fileName, lineNo, "id", $"duplicate item id '{id}'");
            items.Add(new Item(items.Count, id, line[(sep + 2)..]));
        }
        if (items.Count == 0) throw new DataFormatException(fileName, 0, null, "holds no items (an empty file?)");
        return new ItemCatalog(items);
    }

    /// <param name="denseIds">Write dense catalog ids (S-DPO's <c>id2name.txt</c>) instead of the source ids.</param>
    public static void Write(string path, ItemCatalog catalog, bool denseIds = false) => AtomicFile.Write(path, s =>
    {
        using var w = new StreamWriter(s, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
        foreach (var item in catalog.Items)
        {
            if (item.Title.Contains('\n') || item.ExternalId.Contains("::", StringComparison.Ordinal))
                throw new ArgumentException($"item {item.Id} cannot be written as 'id::title' (newline in title or '::' in id)");
            w.Write(denseIds ? item.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) : item.ExternalId);
            w.Write("::");
            w.WriteLine(item.Title);
        }
    });

    internal static string Clip(string s) => s.Length <= 60 ? s : s[..57] + "...";
}
