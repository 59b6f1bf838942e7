using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Unicode;
using Rnn.Simd.Internal;

namespace Rnn.Simd.IO;

/// <summary>
/// Parses and validates a safetensors header (the JSON between the 8-byte length and the data region).
/// Everything it reads is untrusted: every way the bytes can be wrong ends in an <see cref="InvalidDataException"/>.
/// </summary>
/// <remarks>The rules are listed on <see cref="SafeTensorsFile"/>, the public face of this parser.</remarks>
internal static class SafeTensorsHeader
{
    /// <summary>The reference implementation's cap on the header length (100 MB); larger headers are refused unread.</summary>
    public const long MaxHeaderLength = 100_000_000;

    /// <summary>The reserved key of the metadata object.</summary>
    public const string MetadataKey = "__metadata__";

    // The deepest legal nesting is root → tensor entry → shape array (3); anything deeper is an error anyway,
    // so the reader is told to stop long before a hostile header could make it recurse.
    private static readonly JsonReaderOptions s_options = new()
    {
        MaxDepth = 4,
        CommentHandling = JsonCommentHandling.Disallow,
        AllowTrailingCommas = false,
    };

    public static (List<SafeTensorsEntry> Entries, Dictionary<string, string> Metadata) Parse(ReadOnlySpan<byte> json, long dataLength)
    {
        if (!Utf8.IsValid(json))
        {
            ThrowHelper.InvalidData("safetensors: the header is not valid UTF-8.");
        }

        if (json.IsEmpty || json[0] != (byte)'{')
        {
            ThrowHelper.InvalidData("safetensors: the header does not start with '{'.");
        }

        var entries = new List<SafeTensorsEntry>();
        var byName = new HashSet<string>(StringComparer.Ordinal);
        Dictionary<string, string>? metadata = null;
        try
        {
            var reader = new Utf8JsonReader(json, s_options);
            Expect(ref reader, JsonTokenType.StartObject, "the header's root");
            while (true)
            {
                Next(ref reader, "the header's root object");
                if (reader.TokenType == JsonTokenType.EndObject)
                {
                    break;
                }

                string name = reader.GetString()!;
                if (name == MetadataKey)
                {
                    if (metadata is not null)
                    {
                        ThrowHelper.InvalidData($"safetensors: '{MetadataKey}' appears twice in the header.");
                    }

                    metadata = ParseMetadata(ref reader);
                }
                else
                {
                    if (!byName.Add(name))
                    {
                        ThrowHelper.InvalidData($"safetensors: tensor '{name}' appears twice in the header.");
                    }

                    entries.Add(ParseEntry(ref reader, name, dataLength));
                }
            }

            // Only whitespace may follow the root object; Read throws on anything else.
            if (reader.Read())
            {
                ThrowHelper.InvalidData("safetensors: the header has content after its root object.");
            }
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"safetensors: the header is not valid JSON: {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            // GetString on an escape that decodes to a lone surrogate.
            throw new InvalidDataException($"safetensors: the header holds a string that is not valid Unicode: {e.Message}", e);
        }

        CheckTiling(entries, dataLength);
        return (entries, metadata ?? new Dictionary<string, string>(StringComparer.Ordinal));
    }

    private static Dictionary<string, string> ParseMetadata(ref Utf8JsonReader reader)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        Expect(ref reader, JsonTokenType.StartObject, $"'{MetadataKey}' (must be an object of strings)");
        while (true)
        {
            Next(ref reader, $"'{MetadataKey}'");
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                return metadata;
            }

            string key = reader.GetString()!;
            if (metadata.ContainsKey(key))
            {
                ThrowHelper.InvalidData($"safetensors: metadata key '{key}' appears twice.");
            }

            Expect(ref reader, JsonTokenType.String, $"metadata value '{key}' (must be a string)");
            metadata.Add(key, reader.GetString()!);
        }
    }

    private static SafeTensorsEntry ParseEntry(ref Utf8JsonReader reader, string name, long dataLength)
    {
        string what = $"tensor '{name}'";
        Expect(ref reader, JsonTokenType.StartObject, $"{what} (must be an object)");
        SafeTensorsDType? dtype = null;
        List<long>? shape = null;
        List<long>? offsets = null;
        while (true)
        {
            Next(ref reader, what);
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                break;
            }

            string field = reader.GetString()!;
            switch (field)
            {
                case "dtype":
                    if (dtype is not null)
                    {
                        ThrowHelper.InvalidData($"safetensors: {what} has two 'dtype' fields.");
                    }

                    Expect(ref reader, JsonTokenType.String, $"{what}: 'dtype' (must be a string)");
                    string dtypeName = reader.GetString()!;
                    if (!SafeTensorsDTypes.TryParse(dtypeName, out SafeTensorsDType parsed))
                    {
                        ThrowHelper.InvalidData($"safetensors: {what} has unknown dtype '{dtypeName}'.");
                    }

                    dtype = parsed;
                    break;
                case "shape":
                    if (shape is not null)
                    {
                        ThrowHelper.InvalidData($"safetensors: {what} has two 'shape' fields.");
                    }

                    shape = ParseIntegers(ref reader, $"{what}: 'shape'");
                    break;
                case "data_offsets":
                    if (offsets is not null)
                    {
                        ThrowHelper.InvalidData($"safetensors: {what} has two 'data_offsets' fields.");
                    }

                    offsets = ParseIntegers(ref reader, $"{what}: 'data_offsets'");
                    break;
                default:
                    ThrowHelper.InvalidData($"safetensors: {what} has an unexpected field '{field}'.");
                    break;
            }
        }

        if (dtype is null || shape is null || offsets is null)
        {
            string missing = dtype is null ? "dtype" : shape is null ? "shape" : "data_offsets";
            ThrowHelper.InvalidData($"safetensors: {what} has no '{missing}' field.");
        }

        if (offsets.Count != 2)
        {
            ThrowHelper.InvalidData($"safetensors: {what}: 'data_offsets' must hold two integers [begin, end], it holds {offsets.Count}.");
        }

        long begin = offsets[0], end = offsets[1];
        if (begin > end)
        {
            ThrowHelper.InvalidData($"safetensors: {what}: data_offsets [{begin}, {end}] ends before it begins.");
        }

        if (end > dataLength)
        {
            ThrowHelper.InvalidData($"safetensors: {what}: data_offsets [{begin}, {end}] reach past the data region of {dataLength} bytes.");
        }

        // Left to right with overflow checks, as the reference does: a shape whose running product overflows
        // is refused even if a later dimension is 0.
        long count = 1;
        foreach (long d in shape)
        {
            if (count > long.MaxValue / Math.Max(d, 1))
            {
                ThrowHelper.InvalidData($"safetensors: {what}: the element count of shape [{string.Join(", ", shape)}] overflows.");
            }

            count *= d;
        }

        int size = SafeTensorsDTypes.Size(dtype.Value);
        if (count > long.MaxValue / size || count * size != end - begin)
        {
            ThrowHelper.InvalidData(
                $"safetensors: {what}: {SafeTensorsDTypes.Name(dtype.Value)} [{string.Join(", ", shape)}] needs {(count > long.MaxValue / size ? "more than 2^63" : (count * size).ToString(System.Globalization.CultureInfo.InvariantCulture))} bytes, but data_offsets [{begin}, {end}] span {end - begin}.");
        }

        return new SafeTensorsEntry(name, dtype.Value, [.. shape], count, begin);
    }

    /// <summary>An array of integers in [0, 2^63−1]; fractions, exponents, negatives and other tokens are refused.</summary>
    private static List<long> ParseIntegers(ref Utf8JsonReader reader, string what)
    {
        Expect(ref reader, JsonTokenType.StartArray, $"{what} (must be an array of integers)");
        var values = new List<long>();
        while (true)
        {
            Next(ref reader, what);
            if (reader.TokenType == JsonTokenType.EndArray)
            {
                return values;
            }

            long value = -1;
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out value) || value < 0)
            {
                string text = reader.TokenType == JsonTokenType.Number ? System.Text.Encoding.UTF8.GetString(reader.ValueSpan) : reader.TokenType.ToString();
                ThrowHelper.InvalidData($"safetensors: {what}: element {values.Count} is {text}, not an integer in [0, 2^63).");
            }

            values.Add(value);
        }
    }

    /// <summary>The tensors must cover [0, dataLength) exactly, each starting where the previous one ends.</summary>
    private static void CheckTiling(List<SafeTensorsEntry> entries, long dataLength)
    {
        // Stable order for the checks and for the public list: by offset, empty tensors before the one that
        // starts where they sit, ties by name.
        entries.Sort(static (a, b) =>
        {
            int c = a.DataOffset.CompareTo(b.DataOffset);
            if (c == 0)
            {
                c = a.ByteLength.CompareTo(b.ByteLength);
            }

            return c != 0 ? c : string.CompareOrdinal(a.Name, b.Name);
        });

        long position = 0;
        string? previous = null;
        foreach (SafeTensorsEntry entry in entries)
        {
            if (entry.DataOffset != position)
            {
                string relation = entry.DataOffset < position ? "overlaps" : "leaves a hole after";
                string other = previous is null ? "the start of the data region" : $"tensor '{previous}' (which ends at {position})";
                ThrowHelper.InvalidData($"safetensors: tensor '{entry.Name}' (at {entry.DataOffset}) {relation} {other}; tensors must tile the data region.");
            }

            position += entry.ByteLength;
            previous = entry.Name;
        }

        if (position != dataLength)
        {
            ThrowHelper.InvalidData($"safetensors: the tensors cover {position} bytes but the data region holds {dataLength}.");
        }
    }

    private static void Next(ref Utf8JsonReader reader, string what)
    {
        if (!reader.Read())
        {
            ThrowHelper.InvalidData($"safetensors: the header ends inside {what}.");
        }
    }

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type, string what)
    {
        Next(ref reader, what);
        if (reader.TokenType != type)
        {
            ThrowHelper.InvalidData($"safetensors: expected {what}, found {reader.TokenType}.");
        }
    }
}
