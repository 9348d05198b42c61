namespace RecAlign.Data.Loaders;

/// <summary>What to do with an interaction whose item is not in the item file.</summary>
public enum UnknownItemPolicy
{
    /// <summary>Throw a <see cref="DataFormatException"/> (a counted skip under <see cref="LoadOptions.SkipBadRows"/>).</summary>
    Error,
    /// <summary>Drop the interaction and count it in the report.</summary>
    Skip,
    /// <summary>Add a catalog entry titled with the external id.</summary>
    Add,
}

/// <summary>Options every loader understands (ConfigLoader-compatible record with defaults).</summary>
public sealed record LoadOptions
{
    /// <summary>Dataset name; null uses the folder or file name.</summary>
    public string? Name { get; init; }

    /// <summary>Skip malformed rows (counted, first reasons kept in the <see cref="LoadReport"/>) instead of throwing.</summary>
    public bool SkipBadRows { get; init; }

    /// <summary>How many skip reasons the report keeps verbatim.</summary>
    public int MaxReportedReasons { get; init; } = 10;

    /// <summary>Interactions naming an item the item file lacks. Ignored where a format has no item file.</summary>
    public UnknownItemPolicy UnknownItems { get; init; } = UnknownItemPolicy.Error;

    /// <summary>Read at most this many interaction rows (0 = all); for quick looks at big files.</summary>
    public long MaxRows { get; init; }

    /// <summary>Sequence tables only: rows whose history is empty (the padding-only first prefix, written with
    /// <c>len_seq</c> 1) are dropped and counted unless this is true.</summary>
    public bool KeepEmptyHistories { get; init; }

    /// <summary>Sequence tables only: the item list (<c>id2name.txt</c>, <c>u.item</c> or <c>data_statis.csv</c>) to use
    /// instead of the one beside the table, e.g. DreamRec's <c>data_statis.csv</c> kept in another folder. Null looks
    /// beside each table.</summary>
    public string? ItemList { get; init; }

    /// <summary>LastFM only: keep listening pairs that have no tag timestamp (at timestamp 0) instead of dropping them.</summary>
    public bool KeepUntimedPairs { get; init; }

    /// <summary>JSON-lines dates written without a year (Steam's "Posted June 24." for reviews of the crawl year) take
    /// this year; null makes them an error.</summary>
    public int? YearForYearlessDates { get; init; }

    public static LoadOptions Default { get; } = new();
}

/// <summary>What a load read and what it skipped. Skips are counted; the first few reasons are kept verbatim.</summary>
public sealed class LoadReport
{
    private readonly List<string> _reasons = [];
    private readonly List<string> _notes = [];
    private readonly int _maxReasons;

    public LoadReport(int maxReasons = 10) => _maxReasons = maxReasons;

    /// <summary>Data rows read (header lines excluded), across all files.</summary>
    public long RowsRead { get; internal set; }
    /// <summary>Rows skipped because they were malformed (only under <see cref="LoadOptions.SkipBadRows"/>).</summary>
    public long RowsSkipped { get; private set; }
    /// <summary>Rows dropped on purpose (unknown items under <see cref="UnknownItemPolicy.Skip"/>, empty histories,
    /// untimed pairs...), with a note per kind.</summary>
    public long RowsDropped { get; private set; }
    public IReadOnlyList<string> FirstSkipReasons => _reasons;
    public IReadOnlyList<string> Notes => _notes;

    internal void Skip(DataFormatException e)
    {
        RowsSkipped++;
        if (_reasons.Count < _maxReasons) _reasons.Add(e.Message);
    }

    /// <summary>Adds another report's counts, reasons and notes (a multi-file load).</summary>
    internal void Merge(LoadReport other, string? prefix = null)
    {
        RowsRead += other.RowsRead;
        RowsSkipped += other.RowsSkipped;
        RowsDropped += other.RowsDropped;
        foreach (var r in other._reasons) if (_reasons.Count < _maxReasons) _reasons.Add(r);
        foreach (var n in other._notes) _notes.Add(prefix is null ? n : prefix + n);
    }

    internal void Drop(long count, string note)
    {
        if (count == 0) return;
        RowsDropped += count;
        _notes.Add($"dropped {count} rows: {note}");
    }

    internal void Note(string note) => _notes.Add(note);

    public override string ToString()
    {
        var s = $"read {RowsRead} rows, skipped {RowsSkipped} malformed, dropped {RowsDropped}";
        foreach (var n in _notes) s += "\n  " + n;
        foreach (var r in _reasons) s += "\n  skip: " + r;
        return s;
    }
}

/// <summary>A loaded dataset and its load report.</summary>
public sealed record LoadResult(InteractionDataset Dataset, LoadReport Report);
