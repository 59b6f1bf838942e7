using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Rnn.Simd.Internal;

namespace Rnn.Simd.IO;

/// <summary>
/// Builds a safetensors file: add tensors and metadata, then <see cref="WriteTo"/> a stream or <see cref="Save"/>
/// to a path atomically.
/// </summary>
/// <remarks>
/// <para>
/// Output is deterministic: the same tensors and metadata give byte-identical files whatever order they were
/// added in. Tensors are laid out by element size, largest first, then by name (ordinal), which keeps every
/// tensor naturally aligned without padding between them (the layout PyTorch's writer uses); the header lists
/// <c>__metadata__</c> first (keys sorted ordinally) and the tensors in the same order as their bytes, and is
/// padded with spaces so that the data region starts at a multiple of 8 bytes.
/// </para>
/// <para>
/// Each Add copies its data, so the caller's buffers may be reused at once. Not thread-safe.
/// </para>
/// </remarks>
public sealed class SafeTensorsWriter
{
    private readonly Dictionary<string, Tensor> _tensors = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, string> _metadata = new(StringComparer.Ordinal);

    /// <summary>The number of tensors added so far.</summary>
    public int Count => _tensors.Count;

    /// <summary>Adds an F32 tensor.</summary>
    /// <param name="name">A name not yet used; not <c>__metadata__</c>.</param>
    /// <param name="data">The elements, row-major; its length must equal the product of <paramref name="shape"/>.</param>
    /// <param name="shape">The dimensions, outermost first, each ≥ 0; none for a scalar.</param>
    /// <returns>This writer.</returns>
    public SafeTensorsWriter Add(string name, ReadOnlySpan<float> data, params ReadOnlySpan<long> shape)
    {
        byte[] bytes = Prepare(name, data.Length, 4, shape);
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(data).CopyTo(bytes);
        }
        else
        {
            for (int i = 0; i < data.Length; i++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), data[i]);
            }
        }

        return Store(name, SafeTensorsDType.F32, shape, bytes);
    }

    /// <summary>Adds an F64 tensor.</summary>
    /// <param name="name">A name not yet used; not <c>__metadata__</c>.</param>
    /// <param name="data">The elements, row-major; its length must equal the product of <paramref name="shape"/>.</param>
    /// <param name="shape">The dimensions, outermost first, each ≥ 0; none for a scalar.</param>
    /// <returns>This writer.</returns>
    public SafeTensorsWriter Add(string name, ReadOnlySpan<double> data, params ReadOnlySpan<long> shape)
    {
        byte[] bytes = Prepare(name, data.Length, 8, shape);
        for (int i = 0; i < data.Length; i++)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(8 * i), data[i]);
        }

        return Store(name, SafeTensorsDType.F64, shape, bytes);
    }

    /// <summary>Adds an I64 tensor.</summary>
    /// <param name="name">A name not yet used; not <c>__metadata__</c>.</param>
    /// <param name="data">The elements, row-major; its length must equal the product of <paramref name="shape"/>.</param>
    /// <param name="shape">The dimensions, outermost first, each ≥ 0; none for a scalar.</param>
    /// <returns>This writer.</returns>
    public SafeTensorsWriter Add(string name, ReadOnlySpan<long> data, params ReadOnlySpan<long> shape)
    {
        byte[] bytes = Prepare(name, data.Length, 8, shape);
        for (int i = 0; i < data.Length; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8 * i), data[i]);
        }

        return Store(name, SafeTensorsDType.I64, shape, bytes);
    }

    /// <summary>Adds an F16 tensor.</summary>
    /// <param name="name">A name not yet used; not <c>__metadata__</c>.</param>
    /// <param name="data">The elements, row-major; its length must equal the product of <paramref name="shape"/>.</param>
    /// <param name="shape">The dimensions, outermost first, each ≥ 0; none for a scalar.</param>
    /// <returns>This writer.</returns>
    public SafeTensorsWriter Add(string name, ReadOnlySpan<Half> data, params ReadOnlySpan<long> shape)
    {
        byte[] bytes = Prepare(name, data.Length, 2, shape);
        for (int i = 0; i < data.Length; i++)
        {
            BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(2 * i), data[i]);
        }

        return Store(name, SafeTensorsDType.F16, shape, bytes);
    }

    /// <summary>Adds a BF16 tensor, rounding each float to bfloat16.</summary>
    /// <param name="name">A name not yet used; not <c>__metadata__</c>.</param>
    /// <param name="data">The elements, row-major; its length must equal the product of <paramref name="shape"/>.</param>
    /// <param name="shape">The dimensions, outermost first, each ≥ 0; none for a scalar.</param>
    /// <returns>This writer.</returns>
    /// <remarks>Rounds to nearest, ties to even (values past bfloat16's largest finite value round to ±∞, as
    /// PyTorch's conversion does); a NaN stays a NaN (its payload's top bits kept, made quiet).</remarks>
    public SafeTensorsWriter AddBFloat16(string name, ReadOnlySpan<float> data, params ReadOnlySpan<long> shape)
    {
        byte[] bytes = Prepare(name, data.Length, 2, shape);
        for (int i = 0; i < data.Length; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i), ToBFloat16Bits(data[i]));
        }

        return Store(name, SafeTensorsDType.BF16, shape, bytes);
    }

    /// <summary>Adds an I8 tensor (a checkpoint's int8 weight codes).</summary>
    internal SafeTensorsWriter AddInt8(string name, ReadOnlySpan<sbyte> data, params ReadOnlySpan<long> shape)
    {
        byte[] bytes = Prepare(name, data.Length, 1, shape);
        MemoryMarshal.AsBytes(data).CopyTo(bytes);
        return Store(name, SafeTensorsDType.I8, shape, bytes);
    }

    /// <summary>Sets a <c>__metadata__</c> entry, replacing any earlier value for the key.</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The value.</param>
    /// <returns>This writer.</returns>
    public SafeTensorsWriter SetMetadata(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        ThrowIfNotWellFormed(key, nameof(key));
        ThrowIfNotWellFormed(value, nameof(value));
        _metadata[key] = value;
        return this;
    }

    /// <summary>Writes the file to <paramref name="stream"/> at its current position. The stream is left open.</summary>
    /// <param name="stream">A writable stream.</param>
    /// <exception cref="InvalidOperationException">The header would exceed the 100 MB that readers accept.</exception>
    public void WriteTo(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanWrite)
        {
            ThrowHelper.Argument(nameof(stream), "The stream is not writable.");
        }

        List<Tensor> ordered = Ordered();
        byte[] header = BuildHeader(ordered);
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        stream.Write(prefix);
        stream.Write(header);
        foreach (Tensor tensor in ordered)
        {
            stream.Write(tensor.Bytes);
        }
    }

    /// <summary>
    /// Writes the file to <paramref name="path"/> atomically: into a temporary file in the same directory, flushed
    /// to disk, then renamed over the target. A failure at any point leaves an existing file at
    /// <paramref name="path"/> untouched and removes the temporary file.
    /// </summary>
    /// <remarks>Readers see either the old file or the complete new one, never a partial write. That the rename
    /// itself survives a power loss is up to the file system (the directory entry is not fsynced; .NET has no
    /// portable way to).</remarks>
    /// <param name="path">The destination; its directory must exist.</param>
    /// <exception cref="IOException">The file cannot be written (a full disk, a missing directory: <see cref="DirectoryNotFoundException"/>);
    /// the message names <paramref name="path"/>.</exception>
    /// <exception cref="UnauthorizedAccessException">The directory is not writable; the message names <paramref name="path"/>.</exception>
    public void Save(string path) => SaveCore(path, static s => s);

    /// <summary><see cref="Save(string)"/> with the stream wrapped, so tests can make the write fail midway.</summary>
    internal void SaveCore(string path, Func<Stream, Stream> wrap)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full) ?? throw new ArgumentException("The path has no directory.", nameof(path));

        // Same directory, so the rename never crosses file systems and is atomic where the OS makes it so.
        string temporary = Path.Combine(directory, $".{Path.GetFileName(full)}.{Path.GetRandomFileName()}.tmp");
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                Stream target = wrap(file);
                WriteTo(target);
                target.Flush();
                file.Flush(flushToDisk: true);
            }

            File.Move(temporary, full, overwrite: true);
        }
        catch (Exception e)
        {
            try
            {
                File.Delete(temporary);
            }
            catch (IOException)
            {
                // Best effort: the original error matters more than a leftover temporary file.
            }
            catch (UnauthorizedAccessException)
            {
            }

            // A full disk or a read-only directory: say which file could not be written and that the old one stands.
            string message = $"Could not write '{full}': {e.Message} (any earlier file there is unchanged).";
            switch (e)
            {
                case UnauthorizedAccessException:
                    throw new UnauthorizedAccessException(message, e);
                case DirectoryNotFoundException:
                    throw new DirectoryNotFoundException(message, e);
                case IOException:
                    throw new IOException(message, e);
                default:
                    throw;
            }
        }
    }

    /// <summary>bfloat16 bits of <paramref name="value"/>: the engine's one rounding (<see cref="Kernels.Gemm.ReducedWeights"/>), so a BF16 file holds exactly a bf16 network's weights.</summary>
    internal static ushort ToBFloat16Bits(float value) => Kernels.Gemm.ReducedWeights.ToBFloat16Bits(value);

    /// <summary>A lone surrogate has no UTF-8 encoding: the header could not hold it (and readers refuse it).</summary>
    private static void ThrowIfNotWellFormed(string text, string paramName)
    {
        ReadOnlySpan<char> rest = text;
        while (!rest.IsEmpty)
        {
            if (Rune.DecodeFromUtf16(rest, out _, out int consumed) != System.Buffers.OperationStatus.Done)
            {
                ThrowHelper.Argument(paramName, $"The string holds a lone surrogate at index {text.Length - rest.Length}; it has no UTF-8 encoding.");
            }

            rest = rest[consumed..];
        }
    }

    private byte[] Prepare(string name, int length, int elementSize, ReadOnlySpan<long> shape)
    {
        ArgumentNullException.ThrowIfNull(name);
        ThrowIfNotWellFormed(name, nameof(name));
        if (name == SafeTensorsHeader.MetadataKey)
        {
            ThrowHelper.Argument(nameof(name), $"'{SafeTensorsHeader.MetadataKey}' is reserved for metadata.");
        }

        if (_tensors.ContainsKey(name))
        {
            ThrowHelper.Argument(nameof(name), $"A tensor named '{name}' was already added.");
        }

        // Left to right with overflow checks, exactly as the reader counts, so every shape the writer accepts
        // reads back (a running product that overflows is refused even if a later dimension is 0).
        long count = 1;
        foreach (long d in shape)
        {
            if (d < 0)
            {
                ThrowHelper.Argument(nameof(shape), $"Dimensions must be non-negative; shape is [{string.Join(", ", shape.ToArray())}].");
            }

            if (count > long.MaxValue / Math.Max(d, 1))
            {
                ThrowHelper.Argument(nameof(shape), $"The element count of shape [{string.Join(", ", shape.ToArray())}] overflows.");
            }

            count *= d;
        }

        if (count != length)
        {
            ThrowHelper.Argument("data", $"Shape [{string.Join(", ", shape.ToArray())}] has {count} elements; the data has {length}.");
        }

        if ((long)length * elementSize > Array.MaxLength)
        {
            ThrowHelper.Argument("data", $"{length} elements of {elementSize} bytes are more than one array holds.");
        }

        return new byte[length * elementSize];
    }

    private SafeTensorsWriter Store(string name, SafeTensorsDType dtype, ReadOnlySpan<long> shape, byte[] bytes)
    {
        _tensors.Add(name, new Tensor(name, dtype, shape.ToArray(), bytes));
        return this;
    }

    private List<Tensor> Ordered()
    {
        var ordered = new List<Tensor>(_tensors.Values);
        ordered.Sort(static (a, b) =>
        {
            int c = SafeTensorsDTypes.Size(b.DType).CompareTo(SafeTensorsDTypes.Size(a.DType));
            return c != 0 ? c : string.CompareOrdinal(a.Name, b.Name);
        });
        return ordered;
    }

    private byte[] BuildHeader(List<Tensor> ordered)
    {
        using var json = new MemoryStream();
        using (var writer = new Utf8JsonWriter(json, new JsonWriterOptions
        {
            // Not HTML: only what JSON itself requires is escaped, so names like "a+b" stay readable.
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            Indented = false,
        }))
        {
            writer.WriteStartObject();
            if (_metadata.Count > 0)
            {
                writer.WriteStartObject(SafeTensorsHeader.MetadataKey);
                foreach (KeyValuePair<string, string> pair in _metadata)
                {
                    writer.WriteString(pair.Key, pair.Value);
                }

                writer.WriteEndObject();
            }

            long offset = 0;
            foreach (Tensor tensor in ordered)
            {
                writer.WriteStartObject(tensor.Name);
                writer.WriteString("dtype", SafeTensorsDTypes.Name(tensor.DType));
                writer.WriteStartArray("shape");
                foreach (long d in tensor.Shape)
                {
                    writer.WriteNumberValue(d);
                }

                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(offset);
                writer.WriteNumberValue(offset + tensor.Bytes.Length);
                writer.WriteEndArray();
                writer.WriteEndObject();
                offset += tensor.Bytes.Length;
            }

            writer.WriteEndObject();
        }

        // Pad with spaces (JSON whitespace) so that 8 + header length is a multiple of 8.
        int padding = (int)((8 - (json.Length % 8)) % 8);
        for (int i = 0; i < padding; i++)
        {
            json.WriteByte((byte)' ');
        }

        if (json.Length > SafeTensorsHeader.MaxHeaderLength)
        {
            ThrowHelper.InvalidOperation($"The header would be {json.Length} bytes, more than the {SafeTensorsHeader.MaxHeaderLength} that readers accept.");
        }

        return json.ToArray();
    }

    private sealed record Tensor(string Name, SafeTensorsDType DType, long[] Shape, byte[] Bytes);
}
