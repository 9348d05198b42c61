using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RecAlign.Training.Optimization;

/// <summary>
/// Opt-in packing of same-dtype parameters into one contiguous 1-D buffer (<see cref="Data"/>): each parameter is
/// re-pointed (<c>set_</c>) at a view of it, and its <c>.grad</c> at a view of a second buffer (<see cref="Grad"/>),
/// so an optimizer can update all of them with a handful of large ops. Backward accumulates into an existing grad in
/// place, so the views keep receiving gradients as long as grads are zeroed (<see cref="ZeroGrad"/>), never set to
/// none. <see cref="EnsureGradsAttached"/> repairs a parameter whose grad was replaced or dropped (copying the new
/// grad in), so a stray <c>zero_grad(set_to_none)</c> costs speed, not correctness. Each parameter's offset is
/// 64-byte aligned; the gaps hold zeros.
/// </summary>
public sealed class FlatParameters : IDisposable
{
    private const long AlignBytes = 64;
    private readonly (string Name, Parameter Parameter, long Offset, long Numel)[] _entries;
    private readonly IntPtr _gradBase;
    private readonly long _elementSize;
    private bool _disposed;

    public Tensor Data { get; }
    public Tensor Grad { get; }
    public ScalarType Dtype { get; }
    public IReadOnlyList<(string Name, Parameter Parameter, long Offset, long Numel)> Entries => _entries;

    /// <summary>Packs <paramref name="parameters"/> (all one dtype and device); existing grads are copied into the flat grad.</summary>
    public FlatParameters(IEnumerable<(string Name, Parameter Parameter)> parameters)
    {
        var list = parameters.ToArray();
        if (list.Length == 0) throw new ArgumentException("nothing to flatten: empty parameter list", nameof(parameters));
        Dtype = list[0].Parameter.dtype;
        var device = list[0].Parameter.device;
        _elementSize = list[0].Parameter.element_size();
        long align = Math.Max(1, AlignBytes / _elementSize);
        _entries = new (string, Parameter, long, long)[list.Length];
        long offset = 0;
        for (int i = 0; i < list.Length; i++)
        {
            var (name, p) = list[i];
            if (p.dtype != Dtype) throw new ArgumentException($"cannot flatten '{name}': dtype {p.dtype} differs from '{list[0].Name}' ({Dtype})", nameof(parameters));
            if (p.device.ToString() != device.ToString()) throw new ArgumentException($"cannot flatten '{name}': device {p.device} differs from {device}", nameof(parameters));
            long n = p.numel();
            _entries[i] = (name, p, offset, n);
            offset += (n + align - 1) / align * align;
        }

        using var noGrad = torch.no_grad();
        Data = torch.zeros(offset, Dtype, device).DetachFromDisposeScope();
        Grad = torch.zeros(offset, Dtype, device).DetachFromDisposeScope();
        _gradBase = NativeTensor.DataPointer(Grad);
        foreach (var (_, p, off, n) in _entries)
        {
            using var view = Data.narrow(0, off, n).view(p.shape);
            view.copy_(p);
            using var oldGrad = p.grad;
            using var gview = Grad.narrow(0, off, n).view(p.shape);
            if (oldGrad is not null) gview.copy_(oldGrad);
            p.set_(view);
            p.grad = gview;
        }
    }

    /// <summary>Zeroes all gradients with one op (grads stay attached as views).</summary>
    public void ZeroGrad()
    {
        using var noGrad = torch.no_grad();
        Grad.zero_();
    }

    /// <summary>
    /// Checks every parameter's grad is still its view of <see cref="Grad"/> (one pointer compare each); a replaced
    /// grad is copied into the view and the view re-attached, a missing one zeroes its slice. Returns how many were repaired.
    /// </summary>
    public int EnsureGradsAttached()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int repaired = 0;
        using var noGrad = torch.no_grad();
        foreach (var (_, p, off, n) in _entries)
        {
            using var g = p.grad;
            if (g is not null && NativeTensor.DataPointer(g) == _gradBase + (nint)(off * _elementSize)) continue;
            using var gview = Grad.narrow(0, off, n).view(p.shape);
            if (g is null) gview.zero_();
            else gview.copy_(g);
            p.grad = gview;
            repaired++;
        }
        return repaired;
    }

    /// <summary>A view of <paramref name="flat"/> (same length as <see cref="Data"/>) shaped like entry <paramref name="index"/>.</summary>
    public Tensor ViewOf(Tensor flat, int index)
    {
        var (_, p, off, n) = _entries[index];
        return flat.narrow(0, off, n).view(p.shape);
    }

    /// <summary>Frees the flat buffers' handles; parameters keep their storage alive, their grads are dropped.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var e in _entries) e.Parameter.grad = null;
        Data.Dispose();
        Grad.Dispose();
    }
}

/// <summary>One native call TorchSharp keeps internal: a tensor's data pointer, used to recognise storage identity.</summary>
internal static class NativeTensor
{
    [System.Runtime.InteropServices.DllImport("LibTorchSharp")]
    private static extern IntPtr THSTensor_data(IntPtr handle);

    /// <summary>Address of the tensor's first element (storage base + offset); zero for empty tensors.</summary>
    public static IntPtr DataPointer(Tensor t) => THSTensor_data(t.Handle);
}
