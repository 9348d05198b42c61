namespace RecAlign.Models.Language.Generation;

/// <summary>
/// A prefix tree over token sequences (e.g. every candidate title's tokens + EOS) for constrained decoding: from the
/// tokens generated so far, <see cref="Allowed"/> gives the tokens that keep the output a prefix of some sequence.
/// Nodes are dense ints (root = 0); a missing transition is -1.
/// </summary>
public sealed class TokenTrie
{
    public const int Root = 0;
    public const int None = -1;

    private readonly List<Dictionary<int, int>> _children = [new()];
    private readonly List<bool> _terminal = [false];
    private int[]?[] _allowedCache = [];

    public TokenTrie(IEnumerable<IReadOnlyList<int>> sequences)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        int index = 0;
        foreach (var seq in sequences)
        {
            if (seq is null || seq.Count == 0)
                throw new ArgumentException($"sequence {index} is empty; every allowed continuation needs at least one token", nameof(sequences));
            int node = Root;
            foreach (var token in seq)
            {
                if (token < 0) throw new ArgumentException($"sequence {index} holds a negative token id ({token})", nameof(sequences));
                if (!_children[node].TryGetValue(token, out var next))
                {
                    next = _children.Count;
                    _children.Add(new Dictionary<int, int>());
                    _terminal.Add(false);
                    _children[node][token] = next;
                }
                node = next;
            }
            if (!_terminal[node]) SequenceCount++;
            _terminal[node] = true;
            index++;
        }
        if (SequenceCount == 0) throw new ArgumentException("a token trie needs at least one sequence", nameof(sequences));
        _allowedCache = new int[]?[_children.Count];
    }

    public TokenTrie(params int[][] sequences) : this((IEnumerable<IReadOnlyList<int>>)sequences) { }

    /// <summary>Number of distinct sequences stored.</summary>
    public int SequenceCount { get; }
    public int NodeCount => _children.Count;

    /// <summary>The node reached from <paramref name="node"/> by <paramref name="token"/>, or <see cref="None"/>.</summary>
    public int Next(int node, int token) =>
        node >= 0 && _children[node].TryGetValue(token, out var next) ? next : None;

    /// <summary>The node reached by walking <paramref name="prefix"/> from the root, or <see cref="None"/>.</summary>
    public int Walk(IEnumerable<int> prefix)
    {
        int node = Root;
        foreach (var t in prefix)
        {
            node = Next(node, t);
            if (node == None) return None;
        }
        return node;
    }

    /// <summary>Tokens allowed after <paramref name="node"/>, ascending; empty for <see cref="None"/> and leaves.</summary>
    public IReadOnlyList<int> Allowed(int node)
    {
        if (node < 0) return [];
        return _allowedCache[node] ??= _children[node].Keys.Order().ToArray();
    }

    /// <summary>True when a whole stored sequence ends at <paramref name="node"/>.</summary>
    public bool IsComplete(int node) => node >= 0 && _terminal[node];

    /// <summary>True when no stored sequence continues past <paramref name="node"/> (generation must stop here).</summary>
    public bool IsLeaf(int node) => node >= 0 && _children[node].Count == 0;

    /// <summary>True when <paramref name="sequence"/> is exactly one of the stored sequences.</summary>
    public bool Contains(IEnumerable<int> sequence) => IsComplete(Walk(sequence));
}
