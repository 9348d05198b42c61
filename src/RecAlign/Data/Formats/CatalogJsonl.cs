using System.Text.Json;
using System.Text.Json.Nodes;
using RecAlign.IO;

namespace RecAlign.Data.Formats;

/// <summary>A model directory's catalog, <c>items.jsonl</c>: one <c>{"id", "external_id", "title"}</c> object per
/// line, ids dense and in order, so the ids a model scores are the catalog's and a file naming items by title can be
/// mapped onto them.</summary>
public static class CatalogJsonl
{
    public const string FileName = "items.jsonl";

    private static readonly JsonSerializerOptions Compact = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Serialize(ItemCatalog catalog)
    {
        var items = new System.Text.StringBuilder();
        foreach (var item in catalog.Items)
            items.Append(JsonSerializer.Serialize(new { id = item.Id, external_id = item.ExternalId, title = item.Title }, Compact)).Append('\n');
        return items.ToString();
    }

    /// <summary>Writes <see cref="FileName"/> into <paramref name="directory"/> atomically.</summary>
    public static void Write(ItemCatalog catalog, string directory) => AtomicFile.WriteAllText(Path.Combine(directory, FileName), Serialize(catalog));

    /// <summary>Reads an <c>items.jsonl</c>; errors name the file, line and field.</summary>
    public static ItemCatalog Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: the model directory has no item list ({FileName})", path);
        var items = new List<Item>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (line.Length == 0) continue;
            JsonObject o;
            try { o = JsonNode.Parse(line) as JsonObject ?? throw new FormatException("not a JSON object"); }
            catch (Exception e) when (e is JsonException or FormatException) { throw new FormatException($"{path}:{lineNo}: {e.Message}", e); }
            string Field(string name) => o[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s
                : throw new FormatException($"{path}:{lineNo}: field '{name}' must be a string");
            int id = o["id"] is JsonValue iv && iv.TryGetValue<int>(out var n) ? n : throw new FormatException($"{path}:{lineNo}: field 'id' must be an integer");
            if (id != items.Count) throw new FormatException($"{path}:{lineNo}: field 'id' is {id}, expected {items.Count} (ids are dense and in order)");
            items.Add(new Item(id, Field("external_id"), Field("title")));
        }
        try { return new ItemCatalog(items); }
        catch (ArgumentException e) { throw new FormatException($"{path}: {e.Message}", e); }
    }
}
