using System.Buffers.Binary;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Rnn.Simd.IO;
using Rnn.Simd.Training;

namespace Rnn.Simd.Fuzz;

/// <summary>
/// Turns a valid safetensors file into a hostile one. Byte-level mutations (flips, truncations, insertions,
/// deletions, the header-length field) and header-aware ones (offsets past the end, overlapping or reversed, wrong
/// and unknown dtypes, negative and overflowing shapes, duplicate names, deep nesting, invalid UTF-8, NaN and ∞ weights,
/// shapes that no longer chain, hostile metadata and architecture values, renamed tensors, spliced files).
/// </summary>
/// <remarks>
/// A header-aware mutation of a checkpoint is usually re-signed (its SHA-256 recomputed), so that it gets past the
/// checksum and reaches the checks behind it; unsigned, it must read as damage. Deterministic: the same generator state
/// gives the same file.
/// </remarks>
internal static class FuzzMutator
{
    /// <summary>The mutation kinds, named for the report.</summary>
    public static readonly string[] Kinds =
    [
        "bit-flips", "truncation", "insertion", "deletion", "header-length", "offsets", "dtype", "shape", "duplicate-name",
        "deep-nesting", "invalid-utf8", "non-finite", "metadata", "architecture", "reshape", "rename", "splice",
    ];

    private static readonly JsonSerializerOptions s_write = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly string[] s_dtypes =
    [
        "F32", "F64", "F16", "BF16", "I64", "I32", "U8", "I8", "BOOL", "U64", "F8_E4M3", "F4", "f32", "", "Q8_0", "F32 ", "STRING",
    ];

    private static readonly long[] s_dimensions =
    [
        0, 1, 2, 3, 7, -1, -9223372036854775807, int.MaxValue, (long)int.MaxValue + 1, 1L << 32, 1L << 40, 1L << 62, long.MaxValue, 4611686018427387904,
    ];

    private static readonly string[] s_values =
    [
        "", "0", "-1", "1", "2", "NaN", "Infinity", "-Infinity", "1e309", "-0", "1.5", "9223372036854775807", "9223372036854775808",
        "18446744073709551616", "null", "true", "[]", "{}", "[{}]", "[{\"name\":1}]", "\"x\"", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
        "{\"kind\":\"language_model\"}", "[\"a\",\"a\"]", "[\"ab\"]", "\uFFFD", "lstm", "gru", "rnn_relu", "sgd", "adam", "rmsprop", "amsgrad",
    ];

    private static readonly JsonNode?[] s_numbers =
    [
        0, -1, 1, 2, 3, int.MaxValue, (long)int.MaxValue + 1, -2147483648, 1e30, 1.5, "7", null, true, 100_000, 65_536, 8193,
    ];

    private static readonly string[] s_nestings = ["[", "{\"a\":", "[{\"b\":"];

    /// <summary>One hostile variant of <paramref name="seed"/>, built with <paramref name="random"/>; the mutation's kind in <paramref name="kind"/>.</summary>
    public static byte[] Mutate(byte[] seed, IReadOnlyList<(string Name, byte[] Bytes)> others, DeterministicRandom random, out string kind)
    {
        int k = Next(random, Kinds.Length);
        kind = Kinds[k];
        byte[] result = Apply(k, seed, others, random);

        // Stacked mutations reach combinations no single one makes.
        while (Next(random, 5) == 0)
        {
            result = Apply(Next(random, Kinds.Length), result, others, random);
        }

        return result;
    }

    private static byte[] Apply(int kind, byte[] bytes, IReadOnlyList<(string Name, byte[] Bytes)> others, DeterministicRandom random)
    {
        try
        {
            return ApplyCore(kind, bytes, others, random);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException or JsonException)
        {
            // A header-aware mutation met a header an earlier mutation left in a shape it does not handle (a number
            // where a string was): fall back to flipping bytes. Only the mutator gives up here, never a reader.
            return BitFlips(bytes, random);
        }
    }

    private static byte[] ApplyCore(int kind, byte[] bytes, IReadOnlyList<(string Name, byte[] Bytes)> others, DeterministicRandom random) => kind switch
    {
        0 => BitFlips(bytes, random),
        1 => bytes[..Next(random, bytes.Length + 1)],
        2 => Insert(bytes, random),
        3 => Delete(bytes, random),
        4 => HeaderLength(bytes, random),
        9 => DeepNesting(bytes, random),
        10 => InvalidUtf8(bytes, random),
        8 => DuplicateName(bytes, random),
        16 => Splice(bytes, others[Next(random, others.Count)].Bytes, random),
        _ => Structured(kind, bytes, random),
    };

    private static byte[] BitFlips(byte[] bytes, DeterministicRandom random)
    {
        byte[] copy = (byte[])bytes.Clone();
        int flips = 1 + Next(random, 8);
        for (int i = 0; i < flips && copy.Length > 0; i++)
        {
            // Half of the flips land in the first bytes: the length field and the header's opening.
            int at = Next(random, 2) == 0 ? Next(random, Math.Min(copy.Length, 64)) : Next(random, copy.Length);
            copy[at] ^= (byte)(1 + Next(random, 255));
        }

        return copy;
    }

    private static byte[] Insert(byte[] bytes, DeterministicRandom random)
    {
        int at = Next(random, bytes.Length + 1);
        byte[] extra = new byte[1 + Next(random, 64)];
        for (int i = 0; i < extra.Length; i++)
        {
            extra[i] = (byte)random.NextUInt64();
        }

        return [.. bytes.AsSpan(0, at), .. extra, .. bytes.AsSpan(at)];
    }

    private static byte[] Delete(byte[] bytes, DeterministicRandom random)
    {
        if (bytes.Length == 0)
        {
            return bytes;
        }

        int at = Next(random, bytes.Length);
        int count = 1 + Next(random, Math.Min(64, bytes.Length - at));
        return [.. bytes.AsSpan(0, at), .. bytes.AsSpan(at + count)];
    }

    private static byte[] HeaderLength(byte[] bytes, DeterministicRandom random)
    {
        byte[] copy = bytes.Length >= 8 ? (byte[])bytes.Clone() : new byte[8];
        ulong real = BinaryPrimitives.ReadUInt64LittleEndian(copy);
        ulong length = Next(random, 12) switch
        {
            0 => ulong.MaxValue,
            1 => 1UL << 60,
            2 => 1UL << 63,
            3 => long.MaxValue,
            4 => (ulong)(copy.Length - 8 + 1),
            5 => (ulong)copy.Length,
            6 => 100_000_001,
            7 => 0,
            8 => 1,
            9 => real + (ulong)(1 + Next(random, 8)),
            10 => real - (ulong)(1 + Next(random, 8)),
            _ => random.NextUInt64(),
        };
        BinaryPrimitives.WriteUInt64LittleEndian(copy, length);
        return copy;
    }

    private static byte[] DeepNesting(byte[] bytes, DeterministicRandom random)
    {
        int depth = Next(random, 5) switch { 0 => 5, 1 => 64, 2 => 65, 3 => 10_000, _ => 100_000 };
        int shape = Next(random, s_nestings.Length);
        string open = s_nestings[shape], close = shape switch { 0 => "]", 1 => "}", _ => "}]" };
        bool closed = Next(random, 2) == 0;
        var text = new StringBuilder((depth * (open.Length + close.Length)) + 1);
        for (int i = 0; i < depth; i++)
        {
            text.Append(open);
        }

        text.Append('0');
        for (int i = 0; closed && i < depth; i++)
        {
            text.Append(close);
        }

        string nested = text.ToString();
        if (Next(random, 3) == 0 || !TrySplit(bytes, out JsonObject? header, out byte[] data))
        {
            // The whole header is the nesting.
            return Assemble(Encoding.UTF8.GetBytes(nested), bytes.Length > 8 ? bytes[8..] : []);
        }

        if (Next(random, 2) == 0 && header[SafeTensorsHeaderKeys.Metadata] is JsonObject m && m.Count > 0)
        {
            // A metadata value that readers parse as JSON (architecture, parameters, settings, vocabulary).
            m[m.ElementAt(Next(random, m.Count)).Key] = nested;
            return Resign(Assemble(Encoding.UTF8.GetBytes(header.ToJsonString(s_write)), data));
        }

        // Nested right in the header: a field of the root.
        string json = "{\"deep\":" + nested + "," + header.ToJsonString(s_write)[1..];
        return Assemble(Encoding.UTF8.GetBytes(json), data);
    }

    private static byte[] InvalidUtf8(byte[] bytes, DeterministicRandom random)
    {
        byte[][] bad =
        [
            [0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0x80], [0xE2, 0x82], [0xF4, 0x90, 0x80, 0x80],
            "\\uD800"u8.ToArray(), "\\uDC00\\uD800"u8.ToArray(), "\\u0000"u8.ToArray(),
        ];
        byte[] sequence = bad[Next(random, bad.Length)];
        if (bytes.Length < 8)
        {
            return [.. bytes, .. sequence];
        }

        long headerLength = (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(bytes), (ulong)(bytes.Length - 8));

        // Inside a string of the header, right after a quote, so that the JSON around it stays well-formed.
        int start = 8 + Next(random, (int)Math.Max(headerLength, 1));
        int quote = Array.IndexOf(bytes, (byte)'"', Math.Min(start, bytes.Length - 1));
        int at = quote < 0 || quote >= 8 + headerLength ? Math.Min(start, bytes.Length) : quote + 1;
        byte[] result = [.. bytes.AsSpan(0, at), .. sequence, .. bytes.AsSpan(at)];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)(headerLength + sequence.Length));
        return Resign(result);
    }

    private static byte[] DuplicateName(byte[] bytes, DeterministicRandom random)
    {
        if (!TrySplit(bytes, out JsonObject? header, out byte[] data) || header.Count == 0)
        {
            return bytes;
        }

        // JsonObject cannot hold a key twice: repeat one in the text. A tensor, the metadata, or a field of an entry.
        KeyValuePair<string, JsonNode?> entry = header.ElementAt(Next(random, header.Count));
        string json = header.ToJsonString(s_write);
        string copy = JsonSerializer.Serialize(entry.Key, s_write) + ":" + (entry.Value?.ToJsonString(s_write) ?? "null");
        if (Next(random, 2) == 0 && entry.Value is JsonObject inner && inner.Count > 0)
        {
            KeyValuePair<string, JsonNode?> field = inner.ElementAt(Next(random, inner.Count));
            string fieldText = JsonSerializer.Serialize(field.Key, s_write) + ":" + (field.Value?.ToJsonString(s_write) ?? "null");
            string whole = entry.Value.ToJsonString(s_write);
            json = json.Replace(whole, "{" + fieldText + "," + whole[1..], StringComparison.Ordinal);
        }
        else
        {
            json = "{" + copy + "," + json[1..];
        }

        return Resign(Assemble(Encoding.UTF8.GetBytes(json), data));
    }

    private static byte[] Splice(byte[] bytes, byte[] other, DeterministicRandom random)
    {
        // One file's header with another's data, or their halves joined.
        if (Next(random, 2) == 0 && TrySplit(bytes, out JsonObject? header, out _) && TrySplit(other, out _, out byte[] otherData))
        {
            return Resign(Assemble(Encoding.UTF8.GetBytes(header.ToJsonString(s_write)), otherData));
        }

        int cut = Next(random, bytes.Length + 1), from = Next(random, other.Length + 1);
        return [.. bytes.AsSpan(0, cut), .. other.AsSpan(from)];
    }

    /// <summary>Mutations of the parsed header (and of the data it describes), then assembled and usually re-signed.</summary>
    private static byte[] Structured(int kind, byte[] bytes, DeterministicRandom random)
    {
        if (!TrySplit(bytes, out JsonObject? header, out byte[] data))
        {
            return BitFlips(bytes, random);
        }

        List<(string Name, JsonObject Entry)> tensors = [.. header.Where(p => p.Key != SafeTensorsHeaderKeys.Metadata && p.Value is JsonObject)
            .Select(p => (p.Key, (JsonObject)p.Value!))];
        JsonObject? metadata = header[SafeTensorsHeaderKeys.Metadata] as JsonObject;
        (string Name, JsonObject Entry) tensor = tensors.Count > 0 ? tensors[Next(random, tensors.Count)] : ("", new JsonObject());
        switch (kind)
        {
            case 5:
                MutateOffsets(tensor.Entry, tensors, data.Length, random);
                break;
            case 6:
                tensor.Entry["dtype"] = Next(random, 8) == 0 ? JsonValue.Create(7) : s_dtypes[Next(random, s_dtypes.Length)];
                break;
            case 7:
                MutateShape(tensor.Entry, random);
                break;
            case 11:
                NonFinite(tensors, data, random);
                break;
            case 12:
                MutateMetadata(header, metadata, random);
                break;
            case 13:
                MutateJsonValue(metadata, random);
                break;
            case 14:
                Reshape(tensor.Entry, random);
                break;
            default:
                Rename(header, tensor.Name, random);
                break;
        }

        byte[] result = Assemble(Encoding.UTF8.GetBytes(header.ToJsonString(s_write)), data);
        return Next(random, 4) == 0 ? result : Resign(result);
    }

    private static void MutateOffsets(JsonObject entry, List<(string Name, JsonObject Entry)> tensors, int dataLength, DeterministicRandom random)
    {
        long[] offsets = Longs(entry["data_offsets"]);
        long begin = offsets.Length > 0 ? offsets[0] : 0, end = offsets.Length > 1 ? offsets[1] : 0;
        long[] other = tensors.Count > 0 ? Longs(tensors[Next(random, tensors.Count)].Entry["data_offsets"]) : [0, 0];
        entry["data_offsets"] = Next(random, 12) switch
        {
            0 => Numbers(begin, dataLength + 1 + Next(random, 16)),
            1 => Numbers(begin + 1, end),
            2 => Numbers(end, begin),
            3 => Numbers(0, end - begin),
            4 => Numbers([.. other]),
            5 => Numbers(-1, end),
            6 => Numbers(long.MaxValue - 4, long.MaxValue),
            7 => Numbers(begin, end, end),
            8 => Numbers(begin),
            9 => new JsonArray(1.5, 2),
            10 => Numbers(begin - 1, end - 1),
            _ => Numbers((long)int.MaxValue + begin, (long)int.MaxValue + end),
        };
    }

    private static void MutateShape(JsonObject entry, DeterministicRandom random)
    {
        long[] shape = Longs(entry["shape"]);
        long Pick() => s_dimensions[Next(random, s_dimensions.Length)];
        entry["shape"] = Next(random, 8) switch
        {
            0 => Numbers(1L << 32, 1L << 32),
            1 => Numbers(long.MaxValue, 0),
            2 => Numbers(0, long.MaxValue, 2),
            3 => Numbers([.. shape.Reverse()]),
            4 => Numbers(),
            5 => Numbers([.. shape, 1]),
            6 => new JsonArray(JsonValue.Create(1.0), JsonValue.Create("3")),
            _ => Numbers([.. shape.Select(d => Next(random, 2) == 0 ? Pick() : d)]),
        };
    }

    private static void Reshape(JsonObject entry, DeterministicRandom random)
    {
        // The same element count in another shape: the bytes still fit, the layers no longer chain.
        long[] shape = Longs(entry["shape"]);
        long count = shape.Aggregate(1L, (a, b) => a * b);
        if (count < 2)
        {
            entry["shape"] = Numbers([.. shape, 1]);
            return;
        }

        long[] divisors = [.. Enumerable.Range(1, (int)Math.Min(count, 4096)).Select(d => (long)d).Where(d => count % d == 0)];
        long first = divisors[Next(random, divisors.Length)];
        entry["shape"] = Next(random, 3) switch
        {
            0 => Numbers(count),
            1 => Numbers(first, count / first),
            _ => Numbers([.. shape.Reverse()]),
        };
    }

    private static void NonFinite(List<(string Name, JsonObject Entry)> tensors, byte[] data, DeterministicRandom random)
    {
        List<long[]> floats = [.. tensors.Where(t => t.Entry["dtype"] is JsonValue v && v.TryGetValue(out string? d) && d == "F32").Select(t => Longs(t.Entry["data_offsets"]))
            .Where(o => o.Length == 2 && o[1] - o[0] >= 4 && o[1] <= data.Length)];
        if (floats.Count == 0)
        {
            return;
        }

        long[] range = floats[Next(random, floats.Count)];
        int at = (int)range[0] + (4 * Next(random, (int)((range[1] - range[0]) / 4)));
        float value = Next(random, 4) switch { 0 => float.NaN, 1 => float.PositiveInfinity, 2 => float.NegativeInfinity, _ => BitConverter.Int32BitsToSingle(-1) };
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(at), value);
    }

    private static void MutateMetadata(JsonObject header, JsonObject? metadata, DeterministicRandom random)
    {
        if (metadata is null || metadata.Count == 0 || Next(random, 10) == 0)
        {
            header[SafeTensorsHeaderKeys.Metadata] = Next(random, 2) == 0 ? new JsonArray() : JsonValue.Create(1);
            return;
        }

        string key = metadata.ElementAt(Next(random, metadata.Count)).Key;
        switch (Next(random, 4))
        {
            case 0:
                metadata.Remove(key);
                break;
            case 1:
                metadata[key] = Next(random, 2) == 0 ? JsonValue.Create(5) : null;
                break;
            default:
                metadata[key] = s_values[Next(random, s_values.Length)];
                break;
        }
    }

    /// <summary>A metadata value that is JSON text (architecture, parameters, settings, vocabulary) with one field changed.</summary>
    private static void MutateJsonValue(JsonObject? metadata, DeterministicRandom random)
    {
        if (metadata is null)
        {
            return;
        }

        List<string> jsonKeys = [.. metadata.Where(p => p.Value is JsonValue v && v.TryGetValue(out string? s) && s.Length > 0 && s[0] is '{' or '[').Select(p => p.Key)];
        if (jsonKeys.Count == 0)
        {
            return;
        }

        string key = jsonKeys[Next(random, jsonKeys.Count)];
        JsonNode? value;
        try
        {
            value = JsonNode.Parse((string)metadata[key]!);
        }
        catch (JsonException)
        {
            return;
        }

        List<(JsonNode Parent, string? Name, int Index)> leaves = [];
        Collect(value, leaves);
        if (leaves.Count == 0)
        {
            return;
        }

        (JsonNode parent, string? name, int index) = leaves[Next(random, leaves.Count)];
        JsonNode? replacement = Next(random, 6) == 0 ? JsonValue.Create(s_values[Next(random, s_values.Length)]) : s_numbers[Next(random, s_numbers.Length)]?.DeepClone();
        if (parent is JsonObject o)
        {
            if (Next(random, 8) == 0)
            {
                o.Remove(name!);
            }
            else
            {
                o[name!] = replacement;
            }
        }
        else if (parent is JsonArray a)
        {
            if (Next(random, 8) == 0)
            {
                a.Add(a[index]?.DeepClone());
            }
            else
            {
                a[index] = replacement;
            }
        }

        metadata[key] = value!.ToJsonString(s_write);
    }

    private static void Collect(JsonNode? node, List<(JsonNode Parent, string? Name, int Index)> leaves)
    {
        if (node is JsonObject o)
        {
            foreach (KeyValuePair<string, JsonNode?> p in o)
            {
                leaves.Add((o, p.Key, -1));
                Collect(p.Value, leaves);
            }
        }
        else if (node is JsonArray a)
        {
            for (int i = 0; i < a.Count; i++)
            {
                leaves.Add((a, null, i));
                Collect(a[i], leaves);
            }
        }
    }

    private static void Rename(JsonObject header, string name, DeterministicRandom random)
    {
        if (name.Length == 0)
        {
            return;
        }

        JsonNode? entry = header[name];
        header.Remove(name);
        string renamed = Next(random, 4) switch
        {
            0 => name.Replace("l0", "l7", StringComparison.Ordinal).Replace("l1", "l0", StringComparison.Ordinal),
            1 => name + "_reverse",
            2 => name.Replace("weight", "bias", StringComparison.Ordinal),
            _ => name.Length > 1 ? name[..^1] : "x",
        };
        header[header.ContainsKey(renamed) ? renamed + "_" : renamed] = entry;
    }

    /// <summary>Recomputes a checkpoint's checksum in place, so that the mutation reaches the checks behind it.</summary>
    internal static byte[] Resign(byte[] bytes)
    {
        SafeTensorsFile file;
        try
        {
            file = SafeTensorsFile.Load(bytes);
        }
        catch (InvalidDataException)
        {
            return bytes;
        }

        if (!file.Metadata.TryGetValue(Checkpoint.ChecksumKey, out string? old))
        {
            return bytes;
        }

        string fresh = Checkpoint.Checksum(file, bytes);
        byte[] from = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(old, s_write)), to = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(fresh, s_write));
        int at = bytes.AsSpan().IndexOf(from);
        if (from.Length != to.Length || at < 0)
        {
            return bytes;
        }

        byte[] copy = (byte[])bytes.Clone();
        to.CopyTo(copy, at);
        return copy;
    }

    private static bool TrySplit(byte[] bytes, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out JsonObject? header, out byte[] data)
    {
        header = null;
        data = [];
        if (bytes.Length < 8)
        {
            return false;
        }

        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (length > (ulong)(bytes.Length - 8))
        {
            return false;
        }

        try
        {
            header = JsonNode.Parse(bytes.AsSpan(8, (int)length)) as JsonObject;

            // Nodes materialise lazily: touch every name and string now, while a bad one can still be caught here.
            Touch(header);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            return false;
        }

        data = bytes[(8 + (int)length)..];
        return header is not null;
    }

    private static void Touch(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (KeyValuePair<string, JsonNode?> p in o)
                {
                    Touch(p.Value);
                }

                break;
            case JsonArray a:
                foreach (JsonNode? item in a)
                {
                    Touch(item);
                }

                break;
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                _ = v.GetValue<string>();
                break;
        }
    }

    private static byte[] Assemble(byte[] header, byte[] data)
    {
        byte[] file = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Length);
        header.CopyTo(file, 8);
        data.CopyTo(file, 8 + header.Length);
        return file;
    }

    private static long[] Longs(JsonNode? node)
    {
        if (node is not JsonArray array)
        {
            return [];
        }

        var values = new List<long>();
        foreach (JsonNode? item in array)
        {
            if (item is JsonValue v && v.TryGetValue(out long l))
            {
                values.Add(l);
            }
        }

        return [.. values];
    }

    private static JsonArray Numbers(params long[] values) => new([.. values.Select(v => (JsonNode)JsonValue.Create(v))]);

    private static int Next(DeterministicRandom random, int bound) => bound <= 1 ? 0 : (int)(random.NextUInt64() % (ulong)bound);

    private static class SafeTensorsHeaderKeys
    {
        public const string Metadata = "__metadata__";
    }
}
