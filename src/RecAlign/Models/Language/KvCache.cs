using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Models.Language;

/// <summary>
/// Per-layer keys and values of the tokens seen so far ([B, kv_heads, T_past, d], post-RoPE), with the key padding
/// mask ([B, T_past], true = real token) and each row's next position id. Tensors live outside dispose scopes and are
/// owned here: replaced ones are disposed at once, so incremental decoding keeps memory flat.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor?[] _keys;
    private readonly Tensor?[] _values;
    private Tensor? _keyMask;
    private Tensor? _nextPositions;

    public KvCache(int layers)
    {
        _keys = new Tensor?[layers];
        _values = new Tensor?[layers];
    }

    public int Layers => _keys.Length;
    public long Length => _keys[0]?.shape[2] ?? 0;
    public long BatchSize => _keys[0]?.shape[0] ?? 0;
    /// <summary>[B, T_past] bool, true where a cached key is a real token.</summary>
    public Tensor? KeyMask => _keyMask;
    /// <summary>[B] the position id the next token of each row gets.</summary>
    public Tensor? NextPositions => _nextPositions;

    /// <summary>Appends new keys/values for one layer and returns the full ones (owned by the cache).</summary>
    internal (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values)
    {
        var oldK = _keys[layer];
        var oldV = _values[layer];
        var k = oldK is null ? keys.alias() : cat([oldK, keys], 2);
        var v = oldV is null ? values.alias() : cat([oldV, values], 2);
        _keys[layer] = k.DetachFromDisposeScope();
        _values[layer] = v.DetachFromDisposeScope();
        oldK?.Dispose();
        oldV?.Dispose();
        return (_keys[layer]!, _values[layer]!);
    }

    /// <summary>Records the padding mask and next positions after a forward step over <paramref name="stepMask"/>.</summary>
    internal void AdvanceMask(Tensor stepMask, Tensor nextPositions)
    {
        var old = _keyMask;
        _keyMask = (old is null ? stepMask.alias() : cat([old, stepMask], 1)).DetachFromDisposeScope();
        old?.Dispose();
        var oldPos = _nextPositions;
        _nextPositions = nextPositions.alias().DetachFromDisposeScope();
        oldPos?.Dispose();
    }

    /// <summary>
    /// A new cache whose row i is this cache's row <paramref name="rowIndex"/>[i]: computes a prompt's KV once and
    /// expands it over N continuations (candidate scoring, beam search).
    /// </summary>
    public KvCache Select(Tensor rowIndex)
    {
        var result = new KvCache(Layers);
        using var scope = NewDisposeScope();
        for (int l = 0; l < Layers; l++)
        {
            if (_keys[l] is null) continue;
            result._keys[l] = _keys[l]!.index_select(0, rowIndex).DetachFromDisposeScope();
            result._values[l] = _values[l]!.index_select(0, rowIndex).DetachFromDisposeScope();
        }
        if (_keyMask is not null) result._keyMask = _keyMask.index_select(0, rowIndex).DetachFromDisposeScope();
        if (_nextPositions is not null) result._nextPositions = _nextPositions.index_select(0, rowIndex).DetachFromDisposeScope();
        return result;
    }

    /// <summary>Each row repeated <paramref name="times"/> times consecutively (row-major: r0,r0,…,r1,r1,…).</summary>
    public KvCache RepeatInterleave(int times)
    {
        using var scope = NewDisposeScope();
        var device = _keys[0]?.device ?? CPU;
        return Select(arange(BatchSize, device: device).repeat_interleave(times));
    }

    /// <summary>Reorders rows in place (beam search keeps the surviving beams).</summary>
    public void Reorder(Tensor rowIndex)
    {
        using var selected = Select(rowIndex);
        for (int l = 0; l < Layers; l++)
        {
            (_keys[l], selected._keys[l]) = (selected._keys[l], _keys[l]);
            (_values[l], selected._values[l]) = (selected._values[l], _values[l]);
        }
        (_keyMask, selected._keyMask) = (selected._keyMask, _keyMask);
        (_nextPositions, selected._nextPositions) = (selected._nextPositions, _nextPositions);
    }

    public void Dispose()
    {
        for (int l = 0; l < Layers; l++)
        {
            _keys[l]?.Dispose();
            _values[l]?.Dispose();
            _keys[l] = _values[l] = null;
        }
        _keyMask?.Dispose();
        _nextPositions?.Dispose();
        _keyMask = _nextPositions = null;
    }
}
