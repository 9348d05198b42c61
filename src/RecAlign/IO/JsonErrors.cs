using System.Text.Json;

namespace RecAlign.IO;

/// <summary>User-facing text for System.Text.Json errors: the reason without .NET's location suffix
/// (<c>Path: $[0] | LineNumber: 80 | BytePositionInLine: 3.</c>, which callers report in their own words) and
/// without .NET type names (<c>could not be converted to System.Int32</c> reads <c>expected an integer</c>).</summary>
public static class JsonErrors
{
    private const string ConvertPrefix = "The JSON value could not be converted to ";

    /// <summary>The reason in <paramref name="e"/>'s message, in plain words.</summary>
    public static string Reason(JsonException e) => Reason(e.Message);

    public static string Reason(string message)
    {
        var text = message;
        foreach (var marker in new[] { " Path: ", " LineNumber: ", "Path: $" })
        {
            int at = text.IndexOf(marker, StringComparison.Ordinal);
            if (at >= 0) text = text[..at];
        }
        text = text.Trim();
        if (text.StartsWith("Expected depth to be zero at the end of the JSON payload", StringComparison.Ordinal))
            return "unexpected end of file (an object or list is not closed)";
        if (text.StartsWith(ConvertPrefix, StringComparison.Ordinal))
        {
            var typeName = text[ConvertPrefix.Length..].TrimEnd('.');
            var type = Type.GetType(typeName, throwOnError: false);
            return "expected " + (type is not null ? Expected(type) : ShortTypeName(typeName));
        }
        return text.TrimEnd('.');
    }

    /// <summary>What a JSON value for <paramref name="type"/> must look like: <c>an integer</c>, <c>a number</c>,
    /// <c>true or false</c>, <c>one of a, b, c</c> (an enum's snake_case names), <c>a list</c>, ...</summary>
    public static string Expected(Type type)
    {
        if (Nullable.GetUnderlyingType(type) is { } inner) return Expected(inner) + " or null";
        if (type.IsEnum)
            return "one of " + string.Join(", ", Enum.GetNames(type).Select(JsonNamingPolicy.SnakeCaseLower.ConvertName));
        switch (Type.GetTypeCode(type))
        {
            case TypeCode.SByte: case TypeCode.Byte: case TypeCode.Int16: case TypeCode.UInt16:
            case TypeCode.Int32: case TypeCode.UInt32: case TypeCode.Int64: case TypeCode.UInt64:
                return type.Name.StartsWith('U') || type == typeof(byte) ? "a non-negative integer" : "an integer";
            case TypeCode.Single: case TypeCode.Double: case TypeCode.Decimal:
                return "a number";
            case TypeCode.Boolean:
                return "true or false";
            case TypeCode.String: case TypeCode.Char:
                return "a string";
        }
        if (type.IsArray || type.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>)))
            return "a list";
        return "an object";
    }

    private static string ShortTypeName(string typeName)
    {
        // "System.Collections.Generic.List`1[[...]]" -> "List"; "RecAlign.Foo+Bar" -> "Bar".
        var name = typeName.Split('[')[0];
        name = name[(name.LastIndexOfAny(['.', '+']) + 1)..];
        int tick = name.IndexOf('`');
        return "a value of type " + (tick >= 0 ? name[..tick] : name);
    }
}
