using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Rnn.Simd.Internal;

namespace Rnn.Simd.IO;

/// <summary>
/// A safetensors file, opened for reading: an 8-byte little-endian header length N, N bytes of UTF-8 JSON naming
/// each tensor's dtype, shape and byte range, then the data region of raw little-endian, row-major tensors.
/// </summary>
/// <remarks>
/// <para>
/// Every file is untrusted. The header is validated completely when the file is opened; any violation throws
/// <see cref="InvalidDataException"/> naming the problem and the tensor. Nothing is allocated beyond what the
/// file's own length justifies. The rules:
/// </para>
/// <list type="number">
/// <item>The file is at least 8 bytes; the header length is at most 100,000,000 (the reference implementation's
/// cap, checked before anything is read) and at most the number of bytes that follow it.</item>
/// <item>The header is valid UTF-8 and starts with <c>{</c>; after the root object only JSON whitespace
/// (writers pad with spaces) may follow. No comments, no trailing commas.</item>
/// <item>The root is an object of tensor entries plus at most one <c>"__metadata__"</c> object whose values are
/// all strings (<c>null</c> is refused too). Names are compared after unescaping; a repeated name (tensor, field or metadata key) is an error.</item>
/// <item>A tensor entry has exactly the fields <c>dtype</c> (a known string), <c>shape</c> (an array of integers
/// 0 ≤ d ≤ 2^63−1) and <c>data_offsets</c> (an array of exactly two such integers, begin ≤ end).</item>
/// <item>The element count (product of the shape, checked for overflow left to right like the reference
/// implementation) times the dtype's size equals end − begin.</item>
/// <item>The tensors, ordered by offset, tile the data region exactly: the first begins at 0, each begins where
/// the previous ends (no overlap, no hole; an empty tensor may sit at a boundary) and the last ends at the end of
/// the file. The reference implementation (huggingface/safetensors) requires the same, so no padding or unused
/// bytes can hide in a file.</item>
/// </list>
/// <para>
/// <see cref="Open"/> keeps the file handle and reads each tensor on request with positional reads, so a large
/// checkpoint costs memory only for the tensors asked for, files beyond 2 GB work, and reads from several threads
/// are safe (positional reads share no cursor). <see cref="Load"/> parses bytes already in memory without copying
/// them; <see cref="Read"/> copies a stream into memory first. The object is immutable after opening and may be
/// shared across threads; <see cref="Dispose"/> must not race with reads.
/// </para>
/// <para>
/// Misuse of the API (a name that is not in the file, a dtype the method cannot convert, a buffer that is too
/// small, null arguments) throws <see cref="ArgumentException"/> naming the parameter.
/// </para>
/// </remarks>
public sealed class SafeTensorsFile : IDisposable
{
    // Conversions and file reads go through a bounded window so that converting a tensor needs no buffer of
    // the tensor's size: the only scratch is one pooled array of this size.
    private const int ChunkBytes = 64 * 1024;

    private readonly ReadOnlyMemory<byte> _data;
    private readonly SafeFileHandle? _file;
    private readonly long _dataStart;
    private readonly Dictionary<string, SafeTensorsEntry> _byName;
    private bool _disposed;

    private SafeTensorsFile(ReadOnlyMemory<byte> data, SafeFileHandle? file, long dataStart, List<SafeTensorsEntry> entries, Dictionary<string, string> metadata)
    {
        _data = data;
        _file = file;
        _dataStart = dataStart;
        Tensors = entries.AsReadOnly();
        Metadata = metadata.AsReadOnly();
        _byName = new Dictionary<string, SafeTensorsEntry>(entries.Count, StringComparer.Ordinal);
        foreach (SafeTensorsEntry entry in entries)
        {
            _byName.Add(entry.Name, entry);
        }
    }

    /// <summary>The header's <c>__metadata__</c> strings (empty when the file has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Every tensor in the file, in the order of their bytes in the data region (ties by name).</summary>
    public IReadOnlyList<SafeTensorsEntry> Tensors { get; }

    /// <summary>Opens and validates a safetensors file; tensors are read from it on demand.</summary>
    /// <param name="path">The file's path.</param>
    /// <returns>The opened file; dispose it to close the handle.</returns>
    /// <exception cref="InvalidDataException">The file is not a valid safetensors file (the message names the path).</exception>
    /// <exception cref="IOException">The file cannot be opened or read (the usual <see cref="File"/> exceptions), or
    /// <paramref name="path"/> is a directory.</exception>
    public static SafeTensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (Directory.Exists(path))
        {
            // Unix opens a directory for reading and then fails as "access denied", which misleads.
            throw new IOException($"'{path}' is a directory, not a safetensors file.");
        }

        SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        try
        {
            long fileLength = RandomAccess.GetLength(handle);
            Span<byte> prefix = stackalloc byte[8];
            if (fileLength < 8)
            {
                ThrowHelper.InvalidData($"safetensors: the file is {fileLength} bytes long, shorter than the 8-byte header length.");
            }

            ReadExactly(handle, prefix, 0);
            long headerLength = CheckHeaderLength(BinaryPrimitives.ReadUInt64LittleEndian(prefix), fileLength - 8);

            // Bounded by both the 100 MB cap and the file's real length.
            byte[] json = new byte[headerLength];
            ReadExactly(handle, json, 8);
            long dataLength = fileLength - 8 - headerLength;
            var (entries, metadata) = SafeTensorsHeader.Parse(json, dataLength);
            return new SafeTensorsFile(ReadOnlyMemory<byte>.Empty, handle, 8 + headerLength, entries, metadata);
        }
        catch (InvalidDataException e)
        {
            handle.Dispose();
            throw NamingFile(e, path);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>The same problem, with the file's path in the message (<c>safetensors file 'PATH': …</c>).</summary>
    internal static InvalidDataException NamingFile(InvalidDataException e, string path)
    {
        const string Prefix = "safetensors: ";
        string what = e.Message.StartsWith(Prefix, StringComparison.Ordinal) ? e.Message[Prefix.Length..] : e.Message;
        return new InvalidDataException($"safetensors file '{path}': {what}", e);
    }

    /// <summary>Parses and validates a safetensors file held in memory. The bytes are not copied.</summary>
    /// <param name="bytes">The whole file; it must not change while the returned object is in use.</param>
    /// <returns>The parsed file.</returns>
    /// <exception cref="InvalidDataException">The bytes are not a valid safetensors file.</exception>
    public static SafeTensorsFile Load(ReadOnlyMemory<byte> bytes)
    {
        ReadOnlySpan<byte> span = bytes.Span;
        if (span.Length < 8)
        {
            ThrowHelper.InvalidData($"safetensors: the file is {span.Length} bytes long, shorter than the 8-byte header length.");
        }

        long headerLength = CheckHeaderLength(BinaryPrimitives.ReadUInt64LittleEndian(span), span.Length - 8);
        int dataStart = 8 + (int)headerLength;
        var (entries, metadata) = SafeTensorsHeader.Parse(span[8..dataStart], span.Length - dataStart);
        return new SafeTensorsFile(bytes[dataStart..], null, dataStart, entries, metadata);
    }

    /// <summary>Reads a safetensors file from <paramref name="stream"/>'s current position to its end, then parses it.</summary>
    /// <param name="stream">A readable stream; it is read to its end and left open.</param>
    /// <returns>The parsed file, independent of the stream.</returns>
    /// <exception cref="InvalidDataException">The bytes are not a valid safetensors file.</exception>
    public static SafeTensorsFile Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanRead)
        {
            ThrowHelper.Argument(nameof(stream), "The stream is not readable.");
        }

        // Copying grows the buffer with the bytes actually delivered, so a header that lies about its size
        // cannot make this allocate more than the stream holds.
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return Load(copy.GetBuffer().AsMemory(0, (int)copy.Length));
    }

    /// <summary>Whether the file holds a tensor called <paramref name="name"/>.</summary>
    /// <param name="name">The tensor's name.</param>
    /// <returns><see langword="true"/> if it does.</returns>
    public bool Contains(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _byName.ContainsKey(name);
    }

    /// <summary>Looks up a tensor's entry.</summary>
    /// <param name="name">The tensor's name.</param>
    /// <param name="entry">The entry, when found.</param>
    /// <returns><see langword="true"/> if the file holds the tensor.</returns>
    public bool TryGetEntry(string name, [MaybeNullWhen(false)] out SafeTensorsEntry entry)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _byName.TryGetValue(name, out entry);
    }

    /// <summary>A tensor's entry (dtype, shape, byte range).</summary>
    /// <param name="name">The tensor's name.</param>
    /// <returns>The entry.</returns>
    /// <exception cref="ArgumentException">The file holds no tensor of that name (<c>ParamName</c> is <c>name</c>).</exception>
    public SafeTensorsEntry GetEntry(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!_byName.TryGetValue(name, out SafeTensorsEntry? entry))
        {
            ThrowHelper.Argument(nameof(name), $"The file holds no tensor named '{name}'.");
        }

        return entry;
    }

    /// <summary>Reads a floating-point tensor as float32.</summary>
    /// <param name="name">The tensor's name; its dtype must be F32, F64, F16 or BF16.</param>
    /// <returns>A new array of <see cref="SafeTensorsEntry.ElementCount"/> elements, row-major.</returns>
    /// <remarks>F16 and BF16 widen exactly. F64 rounds to the nearest float (ties to even); values beyond
    /// float's range become ±∞; NaN stays NaN.</remarks>
    public float[] ReadSingle(string name)
    {
        SafeTensorsEntry entry = EntryFor(name, IsFloat, "F32, F64, F16 or BF16");
        float[] result = new float[CheckedCount(entry)];
        ReadSingle(name, result);
        return result;
    }

    /// <summary>Reads a floating-point tensor as float32 into a caller's buffer, without allocating.</summary>
    /// <param name="name">The tensor's name; its dtype must be F32, F64, F16 or BF16.</param>
    /// <param name="destination">At least <see cref="SafeTensorsEntry.ElementCount"/> elements; the rest is untouched.</param>
    /// <returns>The number of elements written.</returns>
    /// <remarks>Conversions as in <see cref="ReadSingle(string)"/>.</remarks>
    public int ReadSingle(string name, Span<float> destination)
    {
        SafeTensorsEntry entry = EntryFor(name, IsFloat, "F32, F64, F16 or BF16");
        Span<float> target = Target(entry, destination);
        if (entry.DType == SafeTensorsDType.F32)
        {
            ReadSame(entry, target);
        }
        else
        {
            ReadConverted(entry, target, static (dtype, source, dest) =>
            {
                switch (dtype)
                {
                    case SafeTensorsDType.F64:
                        for (int i = 0; i < dest.Length; i++)
                        {
                            dest[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(source[(8 * i)..]);
                        }

                        break;
                    case SafeTensorsDType.F16:
                        HalfToSingle(source, dest);
                        break;
                    default:
                        BFloat16ToSingle(source, dest);
                        break;
                }
            });
        }

        return target.Length;
    }

    /// <summary>Reads a floating-point tensor as float64.</summary>
    /// <param name="name">The tensor's name; its dtype must be F64, F32, F16 or BF16 (all widen exactly).</param>
    /// <returns>A new array of <see cref="SafeTensorsEntry.ElementCount"/> elements, row-major.</returns>
    public double[] ReadDouble(string name)
    {
        SafeTensorsEntry entry = EntryFor(name, IsFloat, "F64, F32, F16 or BF16");
        double[] result = new double[CheckedCount(entry)];
        ReadDouble(name, result);
        return result;
    }

    /// <summary>Reads a floating-point tensor as float64 into a caller's buffer, without allocating.</summary>
    /// <param name="name">The tensor's name; its dtype must be F64, F32, F16 or BF16 (all widen exactly).</param>
    /// <param name="destination">At least <see cref="SafeTensorsEntry.ElementCount"/> elements; the rest is untouched.</param>
    /// <returns>The number of elements written.</returns>
    public int ReadDouble(string name, Span<double> destination)
    {
        SafeTensorsEntry entry = EntryFor(name, IsFloat, "F64, F32, F16 or BF16");
        Span<double> target = Target(entry, destination);
        if (entry.DType == SafeTensorsDType.F64)
        {
            ReadSame(entry, target);
        }
        else
        {
            ReadConverted(entry, target, static (dtype, source, dest) =>
            {
                switch (dtype)
                {
                    case SafeTensorsDType.F32:
                        for (int i = 0; i < dest.Length; i++)
                        {
                            dest[i] = BinaryPrimitives.ReadSingleLittleEndian(source[(4 * i)..]);
                        }

                        break;
                    case SafeTensorsDType.F16:
                        for (int i = 0; i < dest.Length; i++)
                        {
                            dest[i] = (double)BinaryPrimitives.ReadHalfLittleEndian(source[(2 * i)..]);
                        }

                        break;
                    default:
                        for (int i = 0; i < dest.Length; i++)
                        {
                            uint bits = BinaryPrimitives.ReadUInt16LittleEndian(source[(2 * i)..]);
                            dest[i] = BitConverter.UInt32BitsToSingle(bits << 16);
                        }

                        break;
                }
            });
        }

        return target.Length;
    }

    /// <summary>Reads an I64 tensor.</summary>
    /// <param name="name">The tensor's name; its dtype must be I64.</param>
    /// <returns>A new array of <see cref="SafeTensorsEntry.ElementCount"/> elements, row-major.</returns>
    public long[] ReadInt64(string name)
    {
        SafeTensorsEntry entry = EntryFor(name, static d => d == SafeTensorsDType.I64, "I64");
        long[] result = new long[CheckedCount(entry)];
        ReadInt64(name, result);
        return result;
    }

    /// <summary>Reads an I64 tensor into a caller's buffer, without allocating.</summary>
    /// <param name="name">The tensor's name; its dtype must be I64.</param>
    /// <param name="destination">At least <see cref="SafeTensorsEntry.ElementCount"/> elements; the rest is untouched.</param>
    /// <returns>The number of elements written.</returns>
    public int ReadInt64(string name, Span<long> destination)
    {
        SafeTensorsEntry entry = EntryFor(name, static d => d == SafeTensorsDType.I64, "I64");
        Span<long> target = Target(entry, destination);
        ReadSame(entry, target);
        return target.Length;
    }

    /// <summary>Copies a tensor's raw bytes (little-endian, row-major, as stored), whatever its dtype.</summary>
    /// <param name="name">The tensor's name.</param>
    /// <param name="destination">At least <see cref="SafeTensorsEntry.ByteLength"/> bytes; the rest is untouched.</param>
    /// <returns>The number of bytes written.</returns>
    public int ReadBytes(string name, Span<byte> destination)
    {
        SafeTensorsEntry entry = EntryFor(name, static _ => true, "any");
        if (destination.Length < entry.ByteLength)
        {
            ThrowHelper.Argument(nameof(destination), $"Tensor '{entry.Name}' has {entry.ByteLength} bytes; the buffer holds {destination.Length}.");
        }

        Span<byte> target = destination[..(int)entry.ByteLength];
        ReadRange(entry.DataOffset, target);
        return target.Length;
    }

    /// <summary>Closes the file handle of a file opened with <see cref="Open"/>. Reads afterwards throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        _disposed = true;
        _file?.Dispose();
    }

    private static bool IsFloat(SafeTensorsDType d) =>
        d is SafeTensorsDType.F32 or SafeTensorsDType.F64 or SafeTensorsDType.F16 or SafeTensorsDType.BF16;

    private static long CheckHeaderLength(ulong headerLength, long available)
    {
        if (headerLength > SafeTensorsHeader.MaxHeaderLength)
        {
            ThrowHelper.InvalidData($"safetensors: the header length {headerLength} exceeds the {SafeTensorsHeader.MaxHeaderLength}-byte limit (is this a safetensors file?).");
        }

        if ((long)headerLength > available)
        {
            ThrowHelper.InvalidData($"safetensors: the header length {headerLength} is more than the {available} bytes that follow it.");
        }

        return (long)headerLength;
    }

    private static int CheckedCount(SafeTensorsEntry entry)
    {
        if (entry.ElementCount > Array.MaxLength)
        {
            ThrowHelper.Argument("name", $"Tensor '{entry.Name}' has {entry.ElementCount} elements, more than one array holds; read it in parts with ReadBytes.");
        }

        return (int)entry.ElementCount;
    }

    private static Span<T> Target<T>(SafeTensorsEntry entry, Span<T> destination)
    {
        if (destination.Length < entry.ElementCount)
        {
            ThrowHelper.Argument(nameof(destination), $"Tensor '{entry.Name}' has {entry.ElementCount} elements; the buffer holds {destination.Length}.");
        }

        return destination[..(int)entry.ElementCount];
    }

    private SafeTensorsEntry EntryFor(string name, Func<SafeTensorsDType, bool> accepts, string expected)
    {
        ArgumentNullException.ThrowIfNull(name);
        ObjectDisposedException.ThrowIf(_disposed, this);
        SafeTensorsEntry entry = GetEntry(name);
        if (!accepts(entry.DType))
        {
            ThrowHelper.Argument(nameof(name), $"Tensor '{name}' is {SafeTensorsDTypes.Name(entry.DType)}; this method reads {expected}.");
        }

        return entry;
    }

    /// <summary>Same element type on both sides: a straight copy, then a byte swap on big-endian hosts.</summary>
    private void ReadSame<T>(SafeTensorsEntry entry, Span<T> target)
        where T : unmanaged
    {
        ReadRange(entry.DataOffset, MemoryMarshal.AsBytes(target));
        if (!BitConverter.IsLittleEndian)
        {
            if (typeof(T) == typeof(long) || typeof(T) == typeof(double))
            {
                BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<T, long>(target), MemoryMarshal.Cast<T, long>(target));
            }
            else
            {
                BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<T, int>(target), MemoryMarshal.Cast<T, int>(target));
            }
        }
    }

    private delegate void ChunkConverter<T>(SafeTensorsDType dtype, ReadOnlySpan<byte> source, Span<T> destination);

    /// <summary>Converts chunk by chunk: straight from memory, or through one pooled window for a file.</summary>
    private void ReadConverted<T>(SafeTensorsEntry entry, Span<T> target, ChunkConverter<T> convert)
    {
        int size = SafeTensorsDTypes.Size(entry.DType);
        int perChunk = ChunkBytes / size;
        byte[]? window = _file is null ? null : ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            for (int start = 0; start < target.Length; start += perChunk)
            {
                int n = Math.Min(perChunk, target.Length - start);
                long offset = entry.DataOffset + ((long)start * size);
                ReadOnlySpan<byte> source;
                if (window is null)
                {
                    source = _data.Span.Slice((int)offset, n * size);
                }
                else
                {
                    ReadRange(offset, window.AsSpan(0, n * size));
                    source = window.AsSpan(0, n * size);
                }

                convert(entry.DType, source, target.Slice(start, n));
            }
        }
        finally
        {
            if (window is not null)
            {
                ArrayPool<byte>.Shared.Return(window);
            }
        }
    }

    /// <summary>Copies bytes [offset, offset + target.Length) of the data region.</summary>
    private void ReadRange(long offset, Span<byte> target)
    {
        if (_file is null)
        {
            _data.Span.Slice((int)offset, target.Length).CopyTo(target);
        }
        else
        {
            ReadExactly(_file, target, _dataStart + offset);
        }
    }

    private static void ReadExactly(SafeFileHandle handle, Span<byte> target, long fileOffset)
    {
        while (!target.IsEmpty)
        {
            int read = RandomAccess.Read(handle, target, fileOffset);
            if (read == 0)
            {
                ThrowHelper.InvalidData("safetensors: the file ended early (was it truncated after it was opened?).");
            }

            target = target[read..];
            fileOffset += read;
        }
    }

    private static void HalfToSingle(ReadOnlySpan<byte> source, Span<float> destination)
    {
        if (BitConverter.IsLittleEndian)
        {
            // Exact widening; vectorised where the hardware converts half precision.
            TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source), destination);
            return;
        }

        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(source[(2 * i)..]);
        }
    }

    /// <summary>bfloat16 is the upper half of a binary32: widening is a 16-bit shift, exact for every value.</summary>
    private static void BFloat16ToSingle(ReadOnlySpan<byte> source, Span<float> destination)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            uint bits = BinaryPrimitives.ReadUInt16LittleEndian(source[(2 * i)..]);
            destination[i] = BitConverter.UInt32BitsToSingle(bits << 16);
        }
    }
}
