namespace RecAlign.Data;

/// <summary>The items of one dataset, indexed by dense id (position == <see cref="Item.Id"/>), with lookups by
/// source id and by exact title.</summary>
public sealed class ItemCatalog
{
    private readonly Item[] _items;
    private readonly Dictionary<string, int> _byExternalId;
    private readonly Dictionary<string, int> _byTitle;

    public ItemCatalog(IEnumerable<Item> items)
    {
        _items = items.ToArray();
        _byExternalId = new Dictionary<string, int>(_items.Length, StringComparer.Ordinal);
        _byTitle = new Dictionary<string, int>(_items.Length, StringComparer.Ordinal);
        for (int i = 0; i < _items.Length; i++)
        {
            if (_items[i].Id != i)
                throw new ArgumentException($"item at position {i} has id {_items[i].Id}; catalog ids must be dense 0..N-1");
            if (!_byExternalId.TryAdd(_items[i].ExternalId, i))
                throw new ArgumentException($"duplicate external item id '{_items[i].ExternalId}'");
            _byTitle.TryAdd(_items[i].Title, i); // first item wins when titles repeat
        }
    }

    public int Count => _items.Length;
    public Item this[int id] => _items[id];
    public IReadOnlyList<Item> Items => _items;
    public string Title(int id) => _items[id].Title;
    public bool TryGetByExternalId(string externalId, out int id) => _byExternalId.TryGetValue(externalId, out id);
    public bool TryGetByTitle(string title, out int id) => _byTitle.TryGetValue(title, out id);

    /// <summary>True when <paramref name="other"/> holds the same items in the same order (external ids and titles),
    /// so ids of one are ids of the other.</summary>
    public bool SameItems(ItemCatalog other)
    {
        if (ReferenceEquals(this, other)) return true;
        if (other.Count != Count) return false;
        for (int i = 0; i < _items.Length; i++)
            if (_items[i].ExternalId != other._items[i].ExternalId || _items[i].Title != other._items[i].Title) return false;
        return true;
    }

    /// <summary>For each id of this catalog, the id of the item with the same title in <paramref name="target"/> (−1
    /// where it has none); the identity when both hold the same items. Candidate files name items by title only, so
    /// titles are what two catalogs share.</summary>
    public int[] MapTo(ItemCatalog target)
    {
        var map = new int[Count];
        if (SameItems(target))
        {
            for (int i = 0; i < map.Length; i++) map[i] = i;
            return map;
        }
        for (int i = 0; i < map.Length; i++)
            map[i] = target.TryGetByTitle(_items[i].Title, out var id) ? id : -1;
        return map;
    }
}
