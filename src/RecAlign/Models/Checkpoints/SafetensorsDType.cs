using TorchSharp;

namespace RecAlign.Models.Checkpoints;

/// <summary>Element types of the safetensors format, spelled as in the header ("F32", "BF16", ...).</summary>
public enum SafetensorsDType
{
    F64,
    F32,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U8,
    BOOL,
}

/// <summary>Conversions between safetensors dtype names, TorchSharp scalar types and element sizes.</summary>
public static class SafetensorsDTypes
{
    public static int ElementSize(SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F64 or SafetensorsDType.I64 => 8,
        SafetensorsDType.F32 or SafetensorsDType.I32 => 4,
        SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.I16 => 2,
        SafetensorsDType.I8 or SafetensorsDType.U8 or SafetensorsDType.BOOL => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    public static string ToName(SafetensorsDType dtype) => dtype.ToString();

    /// <summary>Parses a header dtype name; returns false for names this reader does not support.</summary>
    public static bool TryParse(string? name, out SafetensorsDType dtype)
    {
        switch (name)
        {
            case "F64": dtype = SafetensorsDType.F64; return true;
            case "F32": dtype = SafetensorsDType.F32; return true;
            case "F16": dtype = SafetensorsDType.F16; return true;
            case "BF16": dtype = SafetensorsDType.BF16; return true;
            case "I64": dtype = SafetensorsDType.I64; return true;
            case "I32": dtype = SafetensorsDType.I32; return true;
            case "I16": dtype = SafetensorsDType.I16; return true;
            case "I8": dtype = SafetensorsDType.I8; return true;
            case "U8": dtype = SafetensorsDType.U8; return true;
            case "BOOL": dtype = SafetensorsDType.BOOL; return true;
            default: dtype = default; return false;
        }
    }

    public static torch.ScalarType ToScalarType(SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F64 => torch.ScalarType.Float64,
        SafetensorsDType.F32 => torch.ScalarType.Float32,
        SafetensorsDType.F16 => torch.ScalarType.Float16,
        SafetensorsDType.BF16 => torch.ScalarType.BFloat16,
        SafetensorsDType.I64 => torch.ScalarType.Int64,
        SafetensorsDType.I32 => torch.ScalarType.Int32,
        SafetensorsDType.I16 => torch.ScalarType.Int16,
        SafetensorsDType.I8 => torch.ScalarType.Int8,
        SafetensorsDType.U8 => torch.ScalarType.Byte,
        SafetensorsDType.BOOL => torch.ScalarType.Bool,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    public static SafetensorsDType FromScalarType(torch.ScalarType type) => type switch
    {
        torch.ScalarType.Float64 => SafetensorsDType.F64,
        torch.ScalarType.Float32 => SafetensorsDType.F32,
        torch.ScalarType.Float16 => SafetensorsDType.F16,
        torch.ScalarType.BFloat16 => SafetensorsDType.BF16,
        torch.ScalarType.Int64 => SafetensorsDType.I64,
        torch.ScalarType.Int32 => SafetensorsDType.I32,
        torch.ScalarType.Int16 => SafetensorsDType.I16,
        torch.ScalarType.Int8 => SafetensorsDType.I8,
        torch.ScalarType.Byte => SafetensorsDType.U8,
        torch.ScalarType.Bool => SafetensorsDType.BOOL,
        _ => throw new NotSupportedException($"Tensor dtype {type} has no safetensors equivalent supported here."),
    };

    internal static bool IsFloating(torch.ScalarType type) =>
        type is torch.ScalarType.Float64 or torch.ScalarType.Float32 or torch.ScalarType.Float16 or torch.ScalarType.BFloat16;
}
