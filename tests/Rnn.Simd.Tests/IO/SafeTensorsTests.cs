using System.Buffers.Binary;
using System.Text;
using Rnn.Simd.IO;
using Rnn.Simd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.IO;

/// <summary>The safetensors reader and writer: round trips, exact conversions, determinism, atomic saves, and
/// every way a hostile file can be malformed.</summary>
[Trait("Category", "IO")]
public sealed class SafeTensorsTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "rnn-simd-io-" + Guid.NewGuid().ToString("N"));
    private readonly ITestOutputHelper _output;

    public SafeTensorsTests(ITestOutputHelper output)
    {
        _output = output;
        Directory.CreateDirectory(_directory);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    // ---------------------------------------------------------------- helpers

    /// <summary>A file by hand: 8-byte little-endian length, the header text as given, then the data bytes.</summary>
    private static byte[] Raw(string header, ReadOnlySpan<byte> data, ulong? claimedLength = null) =>
        Raw(Encoding.UTF8.GetBytes(header), data, claimedLength);

    private static byte[] Raw(byte[] header, ReadOnlySpan<byte> data, ulong? claimedLength = null)
    {
        byte[] file = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, claimedLength ?? (ulong)header.Length);
        header.CopyTo(file, 8);
        data.CopyTo(file.AsSpan(8 + header.Length));
        return file;
    }

    private static byte[] Bytes(SafeTensorsWriter writer)
    {
        using var stream = new MemoryStream();
        writer.WriteTo(stream);
        return stream.ToArray();
    }

    private static byte[] LittleEndian16(params ushort[] values)
    {
        byte[] bytes = new byte[2 * values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i), values[i]);
        }

        return bytes;
    }

    private static byte[] LittleEndian64(params double[] values)
    {
        byte[] bytes = new byte[8 * values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(8 * i), values[i]);
        }

        return bytes;
    }

    private static void AssertSameBits(uint expected, float actual)
    {
        if (float.IsNaN(BitConverter.UInt32BitsToSingle(expected)))
        {
            Assert.True(float.IsNaN(actual), $"expected NaN, got {actual}");
        }
        else
        {
            Assert.Equal($"0x{expected:X8}", $"0x{BitConverter.SingleToUInt32Bits(actual):X8}");
        }
    }

    /// <summary>A small file with every dtype the reader converts, metadata, a scalar and an empty tensor.</summary>
    private static byte[] SampleFile()
    {
        var writer = new SafeTensorsWriter()
            .Add("lstm.weight", [1f, -2f, 3.5f, float.Epsilon, -0f, 6f], 2, 3)
            .Add("lstm.bias", [0.25, -1e300], 2)
            .Add("steps", [long.MinValue, 0L, long.MaxValue], 3)
            .Add("half", [(Half)1.5f, Half.NegativeInfinity], 2)
            .AddBFloat16("bf", [1f, -0.5f, 3f], 3, 1)
            .Add("scalar", [42f])
            .Add("empty", ReadOnlySpan<float>.Empty, 4, 0)
            .SetMetadata("format", "pt")
            .SetMetadata("note", "ünï \"quoted\" \\ </script>");
        return Bytes(writer);
    }

    // ---------------------------------------------------------------- round trips

    [Fact]
    public void F32_RoundTrips_Bit_Exactly_With_Shape()
    {
        float[] data = [1f, -0f, float.Epsilon, float.MaxValue, float.NegativeInfinity, float.NaN, 1e-40f, MathF.PI];
        using SafeTensorsFile file = SafeTensorsFile.Load(Bytes(new SafeTensorsWriter().Add("w", data, 2, 4)));

        SafeTensorsEntry entry = file.GetEntry("w");
        Assert.Equal(SafeTensorsDType.F32, entry.DType);
        Assert.Equal([2L, 4L], entry.Shape.ToArray());
        Assert.Equal(8, entry.ElementCount);
        Assert.Equal(0, entry.DataOffset);
        Assert.Equal(32, entry.ByteLength);

        float[] read = file.ReadSingle("w");
        for (int i = 0; i < data.Length; i++)
        {
            AssertSameBits(BitConverter.SingleToUInt32Bits(data[i]), read[i]);
        }

        double[] wide = file.ReadDouble("w");
        for (int i = 0; i < data.Length; i++)
        {
            Assert.Equal((double)data[i], wide[i]);
        }
    }

    [Fact]
    public void F64_RoundTrips_Bit_Exactly()
    {
        double[] data = [1.0, -0.0, double.Epsilon, double.MaxValue, double.NegativeInfinity, Math.PI, 1e-310];
        using SafeTensorsFile file = SafeTensorsFile.Load(Bytes(new SafeTensorsWriter().Add("d", data, 7)));
        Assert.Equal(SafeTensorsDType.F64, file.GetEntry("d").DType);
        double[] read = file.ReadDouble("d");
        Assert.Equal(data.Select(BitConverter.DoubleToInt64Bits), read.Select(BitConverter.DoubleToInt64Bits));
    }

    [Fact]
    public void I64_RoundTrips()
    {
        long[] data = [long.MinValue, -1, 0, 1, long.MaxValue, 0x0102030405060708];
        byte[] bytes = Bytes(new SafeTensorsWriter().Add("i", data, 3, 2));
        using SafeTensorsFile file = SafeTensorsFile.Load(bytes);
        Assert.Equal(data, file.ReadInt64("i"));

        // Little-endian on disk whatever the host.
        int dataStart = bytes.Length - (8 * data.Length);
        Assert.Equal(0x08, bytes[dataStart + (8 * 5)]);
        Assert.Equal(0x01, bytes[dataStart + (8 * 5) + 7]);
    }

    [Fact]
    public void F16_Bit_Patterns_Widen_Exactly()
    {
        // (binary16 bits, binary32 bits of the same value)
        (ushort Half, uint Single)[] cases =
        [
            (0x0000, 0x00000000), // +0
            (0x8000, 0x80000000), // −0
            (0x0001, 0x33800000), // smallest denormal, 2^−24
            (0x03FF, 0x387FC000), // largest denormal, 1023 · 2^−24
            (0x8001, 0xB3800000), // −2^−24
            (0x0400, 0x38800000), // smallest normal, 2^−14
            (0x3C00, 0x3F800000), // 1
            (0xC000, 0xC0000000), // −2
            (0x3555, 0x3EAAA000), // 0.333251953125
            (0x7BFF, 0x477FE000), // 65504, the largest finite
            (0xFBFF, 0xC77FE000), // −65504
            (0x7C00, 0x7F800000), // +∞
            (0xFC00, 0xFF800000), // −∞
            (0x7E00, 0x7FC00000), // NaN
            (0xFE01, 0xFFC02000), // NaN with payload
        ];
        string header = $"{{\"h\":{{\"dtype\":\"F16\",\"shape\":[{cases.Length}],\"data_offsets\":[0,{2 * cases.Length}]}}}}";
        using SafeTensorsFile file = SafeTensorsFile.Load(Raw(header, LittleEndian16([.. cases.Select(c => c.Half)])));

        float[] singles = file.ReadSingle("h");
        double[] doubles = file.ReadDouble("h");
        for (int i = 0; i < cases.Length; i++)
        {
            AssertSameBits(cases[i].Single, singles[i]);
            float expected = BitConverter.UInt32BitsToSingle(cases[i].Single);
            Assert.Equal(float.IsNaN(expected) ? double.NaN : expected, doubles[i]);
        }

        Assert.Equal(5.9604644775390625e-8, doubles[2]);
        Assert.Equal(65504.0, doubles[9]);
    }

    [Fact]
    public void BF16_Bit_Patterns_Widen_Exactly()
    {
        (ushort Bf16, uint Single)[] cases =
        [
            (0x0000, 0x00000000), // +0
            (0x8000, 0x80000000), // −0
            (0x0001, 0x00010000), // smallest denormal, 2^−133
            (0x007F, 0x007F0000), // largest denormal
            (0x0080, 0x00800000), // smallest normal, 2^−126
            (0x3F80, 0x3F800000), // 1
            (0xBF00, 0xBF000000), // −0.5
            (0x4049, 0x40490000), // 3.140625
            (0x7F7F, 0x7F7F0000), // largest finite, ≈ 3.3895314e38
            (0xFF7F, 0xFF7F0000),
            (0x7F80, 0x7F800000), // +∞
            (0xFF80, 0xFF800000), // −∞
            (0x7FC0, 0x7FC00000), // NaN
        ];
        string header = $"{{\"b\":{{\"dtype\":\"BF16\",\"shape\":[{cases.Length}],\"data_offsets\":[0,{2 * cases.Length}]}}}}";
        using SafeTensorsFile file = SafeTensorsFile.Load(Raw(header, LittleEndian16([.. cases.Select(c => c.Bf16)])));

        float[] singles = file.ReadSingle("b");
        double[] doubles = file.ReadDouble("b");
        for (int i = 0; i < cases.Length; i++)
        {
            AssertSameBits(cases[i].Single, singles[i]);
        }

        Assert.Equal(3.140625, doubles[7]);
        Assert.Equal(3.3895313892515355e38, doubles[8]);
        Assert.Equal(double.NegativeInfinity, doubles[11]);
        Assert.True(double.IsNaN(doubles[12]));
    }

    [Fact]
    public void F16_And_BF16_Written_By_The_Writer_Read_Back()
    {
        Half[] halves = [(Half)0f, (Half)(-0f), Half.Epsilon, Half.MaxValue, Half.NegativeInfinity, (Half)0.1f];
        float[] floats = [1f, -0f, 3.140625f, float.PositiveInfinity, 1e-39f];
        using SafeTensorsFile file = SafeTensorsFile.Load(Bytes(new SafeTensorsWriter().Add("h", halves, 6).AddBFloat16("b", floats, 5)));
        float[] h = file.ReadSingle("h");
        for (int i = 0; i < halves.Length; i++)
        {
            AssertSameBits(BitConverter.SingleToUInt32Bits((float)halves[i]), h[i]);
        }

        float[] b = file.ReadSingle("b");
        AssertSameBits(0x3F800000, b[0]);
        AssertSameBits(0x80000000, b[1]);
        AssertSameBits(0x40490000, b[2]);
        AssertSameBits(0x7F800000, b[3]);
        AssertSameBits(0x000B0000, b[4]); // 1e-39 = 0x000AE398 → rounds up to 0x000B
    }

    [Theory]
    [InlineData(0x3F800000u, (ushort)0x3F80)] // 1
    [InlineData(0x3F808000u, (ushort)0x3F80)] // 1 + 2^−8: a tie, to even (down)
    [InlineData(0x3F818000u, (ushort)0x3F82)] // 1 + 3·2^−8: a tie, to even (up)
    [InlineData(0x3F808001u, (ushort)0x3F81)] // just above the tie
    [InlineData(0x3F807FFFu, (ushort)0x3F80)] // just below the tie
    [InlineData(0x80000000u, (ushort)0x8000)] // −0
    [InlineData(0x00000001u, (ushort)0x0000)] // the smallest float denormal rounds to +0
    [InlineData(0x7F7FFFFFu, (ushort)0x7F80)] // float.MaxValue rounds past bf16's largest: ∞
    [InlineData(0x7F7F7FFFu, (ushort)0x7F7F)] // below the tie: stays finite
    [InlineData(0xFF800000u, (ushort)0xFF80)] // −∞
    [InlineData(0x7F800001u, (ushort)0x7FC0)] // signalling NaN whose payload is in the dropped bits: still NaN, quiet
    [InlineData(0xFFC00000u, (ushort)0xFFC0)] // negative quiet NaN
    public void BFloat16_Rounding_Is_Nearest_Even(uint single, ushort bf16) =>
        Assert.Equal($"0x{bf16:X4}", $"0x{SafeTensorsWriter.ToBFloat16Bits(BitConverter.UInt32BitsToSingle(single)):X4}");

    [Fact]
    public void F64_To_F32_Rounds_To_Nearest_Even()
    {
        double halfUlpAtOne = Math.ScaleB(1, -24);
        (double Value, uint Single)[] cases =
        [
            (1.0 + halfUlpAtOne, 0x3F800000), // tie → even (down to 1)
            (1.0 + (3 * halfUlpAtOne), 0x3F800002), // tie → even (up)
            (1.0 + halfUlpAtOne + Math.ScaleB(1, -50), 0x3F800001), // just above the tie → up
            (1.0 + halfUlpAtOne - Math.ScaleB(1, -50), 0x3F800000), // just below → down
            (-(1.0 + (3 * halfUlpAtOne)), 0xBF800002),
            (double.MaxValue, 0x7F800000), // overflow → +∞
            (-double.MaxValue, 0xFF800000),
            (3.4028235677973366e38, 0x7F800000), // halfway between float.MaxValue and 2^128: ties to ∞
            (3.4028235677973362e38, 0x7F7FFFFF), // just below that: float.MaxValue
            (1e-50, 0x00000000), // underflow → +0
            (-1e-50, 0x80000000), // → −0
            (Math.ScaleB(1, -149), 0x00000001), // the smallest float denormal, exact
            (Math.ScaleB(1, -150), 0x00000000), // half of it: a tie, to even (0)
            (Math.ScaleB(3, -150), 0x00000002), // 1.5 denormal ulps: tie to even (2)
            (0.1, 0x3DCCCCCD),
            (double.NaN, 0x7FC00000),
        ];
        string header = $"{{\"d\":{{\"dtype\":\"F64\",\"shape\":[{cases.Length}],\"data_offsets\":[0,{8 * cases.Length}]}}}}";
        using SafeTensorsFile file = SafeTensorsFile.Load(Raw(header, LittleEndian64([.. cases.Select(c => c.Value)])));
        float[] singles = file.ReadSingle("d");
        for (int i = 0; i < cases.Length; i++)
        {
            AssertSameBits(cases[i].Single, singles[i]);
        }
    }

    [Fact]
    public void Metadata_RoundTrips()
    {
        var writer = new SafeTensorsWriter()
            .SetMetadata("format", "pt")
            .SetMetadata("empty", "")
            .SetMetadata("unicode ✓", "Grüße, 日本, 😀")
            .SetMetadata("escapes", "\"\\/\b\f\n\r\t\u0001</script>+&")
            .SetMetadata("format", "rnn-simd"); // replaces
        using SafeTensorsFile file = SafeTensorsFile.Load(Bytes(writer));
        Assert.Equal(4, file.Metadata.Count);
        Assert.Equal("rnn-simd", file.Metadata["format"]);
        Assert.Equal("", file.Metadata["empty"]);
        Assert.Equal("Grüße, 日本, 😀", file.Metadata["unicode ✓"]);
        Assert.Equal("\"\\/\b\f\n\r\t\u0001</script>+&", file.Metadata["escapes"]);
        Assert.Empty(file.Tensors);
    }

    [Fact]
    public void No_Metadata_Reads_As_Empty()
    {
        using SafeTensorsFile file = SafeTensorsFile.Load(Bytes(new SafeTensorsWriter().Add("x", [1f], 1)));
        Assert.Empty(file.Metadata);
        Assert.DoesNotContain("__metadata__", Encoding.UTF8.GetString(Bytes(new SafeTensorsWriter())));
    }

    [Fact]
    public void Empty_Tensors_And_Scalars_RoundTrip()
    {
        var writer = new SafeTensorsWriter()
            .Add("e1", ReadOnlySpan<float>.Empty, 0)
            .Add("e2", ReadOnlySpan<double>.Empty, 3, 0, 5)
            .Add("e3", ReadOnlySpan<long>.Empty, 0, 7)
            .Add("s32", [2.5f])
            .Add("s64", [-1.25])
            .Add("si", [7L])
            .Add("sh", [(Half)2]);
        using SafeTensorsFile file = SafeTensorsFile.Load(Bytes(writer));

        Assert.Equal([0L], file.GetEntry("e1").Shape.ToArray());
        Assert.Equal([3L, 0L, 5L], file.GetEntry("e2").Shape.ToArray());
        Assert.Equal(0, file.GetEntry("e2").ElementCount);
        Assert.Empty(file.ReadSingle("e1"));
        Assert.Empty(file.ReadDouble("e2"));
        Assert.Empty(file.ReadInt64("e3"));
        Assert.Equal(0, file.ReadSingle("e1", Span<float>.Empty));

        Assert.Empty(file.GetEntry("s32").Shape);
        Assert.Equal(1, file.GetEntry("s32").ElementCount);
        Assert.Equal([2.5f], file.ReadSingle("s32"));
        Assert.Equal([-1.25], file.ReadDouble("s64"));
        Assert.Equal([7L], file.ReadInt64("si"));
        Assert.Equal([2f], file.ReadSingle("sh"));
    }

    [Fact]
    public void An_Empty_Writer_Writes_A_Valid_Empty_File()
    {
        byte[] bytes = Bytes(new SafeTensorsWriter());
        Assert.Equal(16, bytes.Length); // "{}" padded to 8
        Assert.Equal("{}      ", Encoding.UTF8.GetString(bytes, 8, 8));
        using SafeTensorsFile file = SafeTensorsFile.Load(bytes);
        Assert.Empty(file.Tensors);
    }

    [Fact]
    public void Span_Reads_Fill_A_Prefix_And_Leave_The_Rest()
    {
        using SafeTensorsFile file = SafeTensorsFile.Load(SampleFile());
        float[] buffer = [9, 9, 9, 9, 9, 9, 9, 9];
        Assert.Equal(6, file.ReadSingle("lstm.weight", buffer));
        Assert.Equal([1f, -2f, 3.5f, float.Epsilon, -0f, 6f, 9f, 9f], buffer);

        double[] doubles = new double[3];
        Assert.Equal(2, file.ReadDouble("lstm.bias", doubles));
        Assert.Equal([0.25, -1e300, 0], doubles);

        long[] longs = new long[3];
        Assert.Equal(3, file.ReadInt64("steps", longs));
        Assert.Equal([long.MinValue, 0, long.MaxValue], longs);

        byte[] raw = new byte[6];
        Assert.Equal(4, file.ReadBytes("half", raw));
        Assert.Equal(LittleEndian16(0x3E00, 0xFC00), raw[..4]);
    }

    [Fact]
    public void Entries_List_Tensors_In_Data_Order_And_Contains_Works()
    {
        using SafeTensorsFile file = SafeTensorsFile.Load(SampleFile());

        // The writer's layout: 8-byte elements first, then 4, then 2; by name within a size.
        Assert.Equal(
            ["lstm.bias", "steps", "empty", "lstm.weight", "scalar", "bf", "half"],
            file.Tensors.Select(t => t.Name));
        long position = 0;
        foreach (SafeTensorsEntry entry in file.Tensors)
        {
            Assert.Equal(position, entry.DataOffset);
            Assert.Equal(0, entry.DataOffset % (entry.ElementCount == 0 ? 1 : entry.ByteLength / entry.ElementCount));
            position += entry.ByteLength;
        }

        Assert.True(file.Contains("bf"));
        Assert.False(file.Contains("BF"));
        Assert.False(file.Contains("__metadata__"));
        Assert.True(file.TryGetEntry("steps", out SafeTensorsEntry? steps));
        Assert.Equal(SafeTensorsDType.I64, steps.DType);
        Assert.False(file.TryGetEntry("nope", out _));
        Assert.Equal("lstm.weight: F32 [2, 3] @ 40..64", file.GetEntry("lstm.weight").ToString());
    }

    // ---------------------------------------------------------------- determinism and layout

    [Fact]
    public void Output_Is_Byte_Identical_Whatever_The_Insertion_Order()
    {
        byte[] a = Bytes(new SafeTensorsWriter()
            .Add("b", [1f, 2f], 2).Add("a", [3.0], 1).Add("c", [(Half)1], 1).SetMetadata("x", "1").SetMetadata("y", "2"));
        byte[] b = Bytes(new SafeTensorsWriter()
            .SetMetadata("y", "2").Add("c", [(Half)1], 1).Add("a", [3.0], 1).SetMetadata("x", "1").Add("b", [1f, 2f], 2));
        Assert.Equal(a, b);
    }

    [Fact]
    public void Rewriting_A_Read_File_Gives_The_Same_Bytes()
    {
        byte[] original = SampleFile();
        using SafeTensorsFile file = SafeTensorsFile.Load(original);
        var writer = new SafeTensorsWriter();
        foreach (KeyValuePair<string, string> pair in file.Metadata)
        {
            writer.SetMetadata(pair.Key, pair.Value);
        }

        foreach (SafeTensorsEntry entry in file.Tensors)
        {
            long[] shape = [.. entry.Shape];
            switch (entry.DType)
            {
                case SafeTensorsDType.F32: writer.Add(entry.Name, file.ReadSingle(entry.Name), shape); break;
                case SafeTensorsDType.F64: writer.Add(entry.Name, file.ReadDouble(entry.Name), shape); break;
                case SafeTensorsDType.I64: writer.Add(entry.Name, file.ReadInt64(entry.Name), shape); break;
                case SafeTensorsDType.F16: writer.Add(entry.Name, [.. file.ReadSingle(entry.Name).Select(f => (Half)f)], shape); break;
                case SafeTensorsDType.BF16: writer.AddBFloat16(entry.Name, file.ReadSingle(entry.Name), shape); break;
                default: throw new InvalidOperationException(entry.ToString());
            }
        }

        Assert.Equal(original, Bytes(writer));
    }

    [Fact]
    public void Header_Is_Padded_With_Spaces_So_Data_Starts_8_Byte_Aligned()
    {
        for (int nameLength = 1; nameLength <= 16; nameLength++)
        {
            byte[] bytes = Bytes(new SafeTensorsWriter().Add(new string('n', nameLength), [1f], 1));
            long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            Assert.Equal(0, (8 + headerLength) % 8);
            string header = Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
            string trimmed = header.TrimEnd(' ');
            Assert.EndsWith("}", trimmed);
            Assert.True(header.Length - trimmed.Length < 8);
            Assert.Equal(8 + headerLength + 4, bytes.Length);
        }
    }

    [Fact]
    public void Writes_The_Canonical_Compact_Header()
    {
        byte[] bytes = Bytes(new SafeTensorsWriter().Add("w", [1f, 2f], 1, 2).SetMetadata("format", "pt"));
        string header = Encoding.UTF8.GetString(bytes, 8, (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes));
        Assert.Equal("{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]}} ", header);
    }

    // ---------------------------------------------------------------- files, streams, atomic save

    [Fact]
    public void Open_Load_And_Read_Agree()
    {
        byte[] bytes = SampleFile();
        string path = Path.Combine(_directory, "model.safetensors");
        File.WriteAllBytes(path, bytes);

        using SafeTensorsFile fromMemory = SafeTensorsFile.Load(bytes);
        using SafeTensorsFile fromPath = SafeTensorsFile.Open(path);
        using var stream = new MemoryStream(bytes);
        using SafeTensorsFile fromStream = SafeTensorsFile.Read(stream);
        foreach (SafeTensorsFile other in new[] { fromPath, fromStream })
        {
            Assert.Equal(fromMemory.Metadata, other.Metadata);
            Assert.Equal(fromMemory.Tensors.Select(t => t.ToString()), other.Tensors.Select(t => t.ToString()));
            foreach (SafeTensorsEntry entry in fromMemory.Tensors)
            {
                byte[] expected = new byte[entry.ByteLength], actual = new byte[entry.ByteLength];
                fromMemory.ReadBytes(entry.Name, expected);
                other.ReadBytes(entry.Name, actual);
                Assert.Equal(expected, actual);
            }

            Assert.Equal(fromMemory.ReadSingle("lstm.weight"), other.ReadSingle("lstm.weight"));
            Assert.Equal(fromMemory.ReadSingle("bf"), other.ReadSingle("bf"));
            Assert.Equal(fromMemory.ReadDouble("half"), other.ReadDouble("half"));
            Assert.Equal(fromMemory.ReadInt64("steps"), other.ReadInt64("steps"));
        }
    }

    [Fact]
    public void Large_Tensors_Convert_Across_Chunks_From_A_File()
    {
        // Larger than the reader's 64 KiB conversion window, and not a multiple of it.
        var random = new TestRandom(7);
        float[] values = random.Array((3 * 16384) + 7, -100f, 100f);
        ushort[] bf16 = [.. values.Select(v => (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16))];
        string header = $"{{\"b\":{{\"dtype\":\"BF16\",\"shape\":[{bf16.Length}],\"data_offsets\":[0,{2 * bf16.Length}]}}," +
                        $"\"d\":{{\"dtype\":\"F64\",\"shape\":[{values.Length}],\"data_offsets\":[{2 * bf16.Length},{(2 * bf16.Length) + (8 * values.Length)}]}}}}";
        byte[] bytes = Raw(header, [.. LittleEndian16(bf16), .. LittleEndian64([.. values.Select(v => (double)v)])]);
        string path = Path.Combine(_directory, "large.safetensors");
        File.WriteAllBytes(path, bytes);

        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        Assert.Equal(values, file.ReadSingle("d"));
        float[] widened = file.ReadSingle("b");
        for (int i = 0; i < values.Length; i++)
        {
            AssertSameBits(BitConverter.SingleToUInt32Bits(values[i]) & 0xFFFF0000u, widened[i]);
        }

        using SafeTensorsFile inMemory = SafeTensorsFile.Load(bytes);
        Assert.Equal(widened, inMemory.ReadSingle("b"));
    }

    [Fact]
    public void Save_Writes_The_Same_Bytes_And_Leaves_No_Temporary_File()
    {
        string path = Path.Combine(_directory, "model.safetensors");
        var writer = new SafeTensorsWriter().Add("w", [1f, 2f, 3f], 3).SetMetadata("k", "v");
        writer.Save(path);
        Assert.Equal(Bytes(writer), File.ReadAllBytes(path));

        // Overwrites an existing file.
        writer.Add("x", [5L], 1);
        writer.Save(path);
        Assert.Equal(Bytes(writer), File.ReadAllBytes(path));
        Assert.Equal(["model.safetensors"], Directory.GetFileSystemEntries(_directory).Select(Path.GetFileName));
    }

    [Fact]
    public void A_Save_That_Fails_Midway_Leaves_The_Old_File_Intact()
    {
        string path = Path.Combine(_directory, "model.safetensors");
        byte[] old = Bytes(new SafeTensorsWriter().Add("old", [1f], 1));
        File.WriteAllBytes(path, old);

        var writer = new SafeTensorsWriter().Add("new", new float[10_000], 100, 100);
        IOException error = Assert.Throws<IOException>(() => writer.SaveCore(path, inner => new FailingStream(inner, failAfter: 1000)));
        Assert.Contains("disk full", error.Message);

        Assert.Equal(old, File.ReadAllBytes(path));
        Assert.Equal(["model.safetensors"], Directory.GetFileSystemEntries(_directory).Select(Path.GetFileName));
    }

    [Fact]
    public void Save_Into_A_Missing_Directory_Creates_Nothing()
    {
        string path = Path.Combine(_directory, "missing", "model.safetensors");
        Assert.Throws<DirectoryNotFoundException>(() => new SafeTensorsWriter().Save(path));
        Assert.Empty(Directory.GetFileSystemEntries(_directory));
    }

    [Fact]
    public void Reads_From_A_Disposed_File_Throw_ObjectDisposed()
    {
        string path = Path.Combine(_directory, "model.safetensors");
        File.WriteAllBytes(path, SampleFile());
        SafeTensorsFile file = SafeTensorsFile.Open(path);
        file.Dispose();
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => file.ReadSingle("lstm.weight"));
        Assert.Throws<ObjectDisposedException>(() => file.ReadBytes("half", new byte[4]));
        Assert.True(file.Contains("half")); // the header stays readable
    }

    [SkippableFact]
    public void A_File_Truncated_After_Open_Throws_InvalidDataException_On_Read()
    {
        string path = Path.Combine(_directory, "model.safetensors");
        new SafeTensorsWriter().Add("a", new float[100], 100).Add("b", new double[100], 100).Save(path);
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        Skip.If(OperatingSystem.IsWindows(), "On Windows the reader's FileShare.Read forbids the writer below, so a file cannot shrink while open.");

        using (var other = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            other.SetLength(other.Length - 10);
        }

        Assert.Equal(100, file.ReadDouble("b").Length); // stored first, still complete
        Assert.Contains("ended early", Assert.Throws<InvalidDataException>(() => file.ReadSingle("a")).Message);
    }

    [Fact]
    public void Concurrent_Reads_From_One_Open_File_Agree()
    {
        string path = Path.Combine(_directory, "model.safetensors");
        float[] values = new TestRandom(3).Array(50_000);
        new SafeTensorsWriter().Add("w", values, values.Length).AddBFloat16("b", values, values.Length).Save(path);
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        float[] expectedB = file.ReadSingle("b");
        Parallel.For(0, 16, i =>
        {
            Assert.Equal(values, file.ReadSingle("w"));
            Assert.Equal(expectedB, file.ReadSingle("b"));
        });
    }

    // ---------------------------------------------------------------- Python-style files

    [Fact]
    public void Reads_A_Python_Style_File_Written_By_Hand()
    {
        // As the Python package lays a file out: spaces after separators are legal JSON, metadata first,
        // keys in any order, tensors sorted by alignment, header padded with trailing spaces to 8 bytes.
        string header =
            "{\"__metadata__\": {\"format\": \"pt\"}, " +
            "\"rnn.weight_hh_l0\": {\"dtype\": \"F32\", \"shape\": [2, 2], \"data_offsets\": [16, 32]}, " +
            "\"rnn.bias\": {\"shape\": [2], \"data_offsets\": [0, 16], \"dtype\": \"F64\"}, " +
            "\"rnn.h0\": {\"data_offsets\": [32, 36], \"dtype\": \"BF16\", \"shape\": [1, 2]}}";
        header += new string(' ', (8 - ((8 + header.Length) % 8)) % 8);
        byte[] data = [.. LittleEndian64(0.5, -0.25), .. new float[] { 1f, 2f, 3f, 4f }.SelectMany(BitConverter.GetBytes), .. LittleEndian16(0x3F80, 0xC040)];
        byte[] bytes = Raw(header, data);
        Assert.Equal(0, (bytes.Length - data.Length) % 8);

        using SafeTensorsFile file = SafeTensorsFile.Load(bytes);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(["rnn.bias", "rnn.weight_hh_l0", "rnn.h0"], file.Tensors.Select(t => t.Name));
        Assert.Equal([0.5, -0.25], file.ReadDouble("rnn.bias"));
        Assert.Equal([0.5f, -0.25f], file.ReadSingle("rnn.bias"));
        Assert.Equal([1f, 2f, 3f, 4f], file.ReadSingle("rnn.weight_hh_l0"));
        Assert.Equal([1f, -3f], file.ReadSingle("rnn.h0"));
        Assert.Equal([1L, 2L], file.GetEntry("rnn.h0").Shape.ToArray());
    }

    [Fact]
    public void Accepts_Other_Dtypes_As_Raw_Bytes_And_Whitespace_Padding()
    {
        string header = "{\"mask\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[0,3]},\"idx\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[3,7]}}\n\t\r ";
        using SafeTensorsFile file = SafeTensorsFile.Load(Raw(header, [1, 0, 1, 5, 0, 0, 0]));
        Assert.Equal(SafeTensorsDType.Bool, file.GetEntry("mask").DType);
        Assert.Equal(SafeTensorsDType.I32, file.GetEntry("idx").DType);
        byte[] raw = new byte[4];
        file.ReadBytes("idx", raw);
        Assert.Equal([5, 0, 0, 0], raw);
        Assert.Equal("name", Assert.Throws<ArgumentException>(() => file.ReadInt64("idx")).ParamName);
    }

    // ---------------------------------------------------------------- malformed files

    private const string Good = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";

    private static string Entry(string name, string dtype, string shape, string offsets) =>
        $"\"{name}\":{{\"dtype\":{dtype},\"shape\":{shape},\"data_offsets\":{offsets}}}";

    public static TheoryData<string, byte[], string> MalformedFiles()
    {
        byte[] eight = new byte[8];
        var cases = new TheoryData<string, byte[], string>
        {
            { "empty file", [], "shorter than the 8-byte" },
            { "7 bytes", new byte[7], "shorter than the 8-byte" },
            { "header length past the end", Raw(Good, eight, claimedLength: 1000), "more than the" },
            { "header length one past the end", Raw(Good, eight, claimedLength: (ulong)Good.Length + 9), "more than the" },
            { "header length 2^64-1", Raw(Good, eight, claimedLength: ulong.MaxValue), "exceeds" },
            { "header length 2^63", Raw(Good, eight, claimedLength: 1UL << 63), "exceeds" },
            { "header length above the cap", Raw(Good, eight, claimedLength: 100_000_001), "exceeds" },
            { "header length 0", Raw("", eight), "start with '{'" },
            { "header length 0, nothing else", Raw("", []), "start with '{'" },
            { "invalid UTF-8", Raw([.. "{\"w\xFF\":{}}"u8[..4], 0xFF, .. "\":{}}"u8], []), "UTF-8" },
            { "overlong UTF-8", Raw([.. "{\""u8, 0xC0, 0xAF, .. "\":{}}"u8], []), "UTF-8" },
            { "UTF-8 BOM", Raw([0xEF, 0xBB, 0xBF, .. "{}"u8], []), "start with '{'" },
            { "leading space", Raw(" {}", []), "start with '{'" },
            { "root array", Raw("[]", []), "start with '{'" },
            { "root string", Raw("\"w\"", []), "start with '{'" },
            { "root null", Raw("null", []), "start with '{'" },
            { "truncated JSON", Raw("{\"w\":", []), "JSON" },
            { "truncated in entry", Raw("{\"w\":{\"dtype\":\"F32\"", []), "JSON" },
            { "unterminated string", Raw("{\"w", []), "JSON" },
            { "trailing garbage", Raw("{} x", []), "JSON" },
            { "second root", Raw("{}{}", []), "JSON" },
            { "trailing comma", Raw("{" + Entry("w", "\"F32\"", "[2]", "[0,8]") + ",}", eight), "JSON" },
            { "comment", Raw("{/* c */}", []), "JSON" },
            { "single quotes", Raw("{'w':1}", []), "JSON" },
            { "raw control character", Raw("{\"a\u0001\":{}}", []), "JSON" },
            { "NUL after root", Raw("{}\0", []), "JSON" },
            { "lone surrogate name", Raw("{\"\\ud800\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", []), "Unicode" },
            { "duplicate name", Raw("{" + Entry("w", "\"F32\"", "[1]", "[0,4]") + "," + Entry("w", "\"F32\"", "[1]", "[4,8]") + "}", eight), "'w' appears twice" },
            { "duplicate name via escape", Raw("{" + Entry("w", "\"F32\"", "[1]", "[0,4]") + "," + Entry("\\u0077", "\"F32\"", "[1]", "[4,8]") + "}", eight), "'w' appears twice" },
            { "duplicate metadata", Raw("{\"__metadata__\":{},\"__metadata__\":{}}", []), "twice" },
            { "entry not an object", Raw("{\"w\":[0,8]}", eight), "'w'" },
            { "entry a string", Raw("{\"w\":\"F32\"}", eight), "'w'" },
            { "entry null", Raw("{\"w\":null}", eight), "'w'" },
            { "unknown dtype", Raw("{" + Entry("w", "\"F128\"", "[2]", "[0,8]") + "}", eight), "unknown dtype 'F128'" },
            { "lower-case dtype", Raw("{" + Entry("w", "\"f32\"", "[2]", "[0,8]") + "}", eight), "unknown dtype 'f32'" },
            { "sub-byte dtype", Raw("{" + Entry("w", "\"F4\"", "[2]", "[0,1]") + "}", [0]), "unknown dtype 'F4'" },
            { "empty dtype", Raw("{" + Entry("w", "\"\"", "[2]", "[0,8]") + "}", eight), "unknown dtype" },
            { "dtype a number", Raw("{" + Entry("w", "4", "[2]", "[0,8]") + "}", eight), "'w': 'dtype'" },
            { "dtype null", Raw("{" + Entry("w", "null", "[2]", "[0,8]") + "}", eight), "'w': 'dtype'" },
            { "missing dtype", Raw("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", eight), "'w' has no 'dtype'" },
            { "missing shape", Raw("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", eight), "'w' has no 'shape'" },
            { "missing offsets", Raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", eight), "'w' has no 'data_offsets'" },
            { "empty entry", Raw("{\"w\":{}}", eight), "'w' has no" },
            { "extra field", Raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":1}}", eight), "unexpected field 'extra'" },
            { "dtype twice", Raw("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", eight), "two 'dtype'" },
            { "shape twice", Raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"shape\":[2],\"data_offsets\":[0,8]}}", eight), "two 'shape'" },
            { "offsets twice", Raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"data_offsets\":[0,8]}}", eight), "two 'data_offsets'" },
            { "shape a number", Raw("{" + Entry("w", "\"F32\"", "2", "[0,8]") + "}", eight), "'w': 'shape'" },
            { "shape null", Raw("{" + Entry("w", "\"F32\"", "null", "[0,8]") + "}", eight), "'w': 'shape'" },
            { "shape an object", Raw("{" + Entry("w", "\"F32\"", "{}", "[0,8]") + "}", eight), "'w': 'shape'" },
            { "dimension a string", Raw("{" + Entry("w", "\"F32\"", "[\"2\"]", "[0,8]") + "}", eight), "'w': 'shape'" },
            { "dimension negative", Raw("{" + Entry("w", "\"F32\"", "[-2]", "[0,8]") + "}", eight), "'w': 'shape': element 0 is -2" },
            { "dimension 2.0", Raw("{" + Entry("w", "\"F32\"", "[2.0]", "[0,8]") + "}", eight), "2.0" },
            { "dimension 2.5", Raw("{" + Entry("w", "\"F32\"", "[1, 2.5]", "[0,8]") + "}", eight), "element 1 is 2.5" },
            { "dimension 2e0", Raw("{" + Entry("w", "\"F32\"", "[2e0]", "[0,8]") + "}", eight), "2e0" },
            { "dimension true", Raw("{" + Entry("w", "\"F32\"", "[true]", "[0,8]") + "}", eight), "'w': 'shape'" },
            { "dimension null", Raw("{" + Entry("w", "\"F32\"", "[null]", "[0,8]") + "}", eight), "'w': 'shape'" },
            { "dimension nested", Raw("{" + Entry("w", "\"F32\"", "[[2]]", "[0,8]") + "}", eight), "'w': 'shape'" },
            { "deep nesting", Raw("{" + Entry("w", "\"F32\"", "[[[[[[[[2]]]]]]]]", "[0,8]") + "}", eight), "'w'" },
            { "dimension 2^63", Raw("{" + Entry("w", "\"F32\"", "[9223372036854775808]", "[0,8]") + "}", eight), "9223372036854775808" },
            { "dimension 2^64", Raw("{" + Entry("w", "\"F32\"", "[18446744073709551616]", "[0,8]") + "}", eight), "'w': 'shape'" },
            { "element count overflows", Raw("{" + Entry("w", "\"F32\"", "[3037000500, 3037000500]", "[0,8]") + "}", eight), "'w': the element count" },
            { "overflow before a zero", Raw("{" + Entry("w", "\"F32\"", "[4294967296, 4294967296, 0]", "[0,0]") + "}", []), "overflows" },
            { "byte count overflows", Raw("{" + Entry("w", "\"F64\"", "[2305843009213693952]", "[0,8]") + "}", eight), "more than 2^63" },
            { "huge count, small range", Raw("{" + Entry("w", "\"F32\"", "[1000000000000]", "[0,8]") + "}", eight), "needs 4000000000000 bytes" },
            { "size mismatch", Raw("{" + Entry("w", "\"F32\"", "[3]", "[0,8]") + "}", eight), "'w': F32 [3] needs 12 bytes" },
            { "size mismatch for dtype", Raw("{" + Entry("w", "\"F64\"", "[2]", "[0,8]") + "}", eight), "'w': F64 [2] needs 16" },
            { "offsets a number", Raw("{" + Entry("w", "\"F32\"", "[2]", "8") + "}", eight), "'w': 'data_offsets'" },
            { "offsets one value", Raw("{" + Entry("w", "\"F32\"", "[2]", "[8]") + "}", eight), "two integers" },
            { "offsets three values", Raw("{" + Entry("w", "\"F32\"", "[2]", "[0,8,8]") + "}", eight), "two integers" },
            { "offsets empty", Raw("{" + Entry("w", "\"F32\"", "[2]", "[]") + "}", eight), "two integers" },
            { "offsets reversed", Raw("{" + Entry("w", "\"F32\"", "[0]", "[8,0]") + "}", eight), "'w': data_offsets [8, 0] ends before" },
            { "offset negative", Raw("{" + Entry("w", "\"F32\"", "[2]", "[-1,7]") + "}", eight), "'w': 'data_offsets'" },
            { "offset a string", Raw("{" + Entry("w", "\"F32\"", "[2]", "[\"0\",\"8\"]") + "}", eight), "'w': 'data_offsets'" },
            { "offset fractional", Raw("{" + Entry("w", "\"F32\"", "[2]", "[0,8.0]") + "}", eight), "'w': 'data_offsets'" },
            { "offsets past the data", Raw("{" + Entry("w", "\"F32\"", "[4]", "[0,16]") + "}", eight), "'w': data_offsets [0, 16] reach past" },
            { "offsets far past the data", Raw("{" + Entry("w", "\"F32\"", "[2]", "[9223372036854775799,9223372036854775807]") + "}", eight), "reach past" },
            { "does not start at 0", Raw("{" + Entry("w", "\"F32\"", "[1]", "[4,8]") + "}", eight), "'w' (at 4) leaves a hole after the start" },
            { "hole", Raw("{" + Entry("a", "\"F32\"", "[1]", "[0,4]") + "," + Entry("b", "\"F32\"", "[1]", "[8,12]") + "}", new byte[12]), "'b' (at 8) leaves a hole after tensor 'a'" },
            { "overlap", Raw("{" + Entry("a", "\"F32\"", "[2]", "[0,8]") + "," + Entry("b", "\"F32\"", "[2]", "[4,12]") + "}", new byte[12]), "'b' (at 4) overlaps tensor 'a'" },
            { "same range twice", Raw("{" + Entry("a", "\"F32\"", "[2]", "[0,8]") + "," + Entry("b", "\"F32\"", "[2]", "[0,8]") + "}", eight), "overlaps" },
            { "empty tensor inside another", Raw("{" + Entry("a", "\"F32\"", "[2]", "[0,8]") + "," + Entry("e", "\"F32\"", "[0]", "[4,4]") + "}", eight), "'e' (at 4) overlaps" },
            { "trailing data", Raw(Good, new byte[12]), "cover 8 bytes but the data region holds 12" },
            { "data but no tensors", Raw("{}", eight), "cover 0 bytes but the data region holds 8" },
            { "data too short", Raw(Good, new byte[4]), "reach past" },
            { "metadata not an object", Raw("{\"__metadata__\":[\"a\"]}", []), "'__metadata__'" },
            { "metadata null", Raw("{\"__metadata__\":null}", []), "'__metadata__'" },
            { "metadata a string", Raw("{\"__metadata__\":\"pt\"}", []), "'__metadata__'" },
            { "metadata value a number", Raw("{\"__metadata__\":{\"epoch\":3}}", []), "metadata value 'epoch'" },
            { "metadata value null", Raw("{\"__metadata__\":{\"a\":null}}", []), "metadata value 'a'" },
            { "metadata value an object", Raw("{\"__metadata__\":{\"a\":{}}}", []), "metadata value 'a'" },
            { "metadata value an array", Raw("{\"__metadata__\":{\"a\":[\"x\"]}}", []), "metadata value 'a'" },
            { "metadata value true", Raw("{\"__metadata__\":{\"a\":true}}", []), "metadata value 'a'" },
            { "metadata duplicate key", Raw("{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", []), "metadata key 'a' appears twice" },
            { "metadata as a tensor", Raw("{\"__metadata__\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", eight), "metadata value 'shape' (must be a string)" },
        };
        return cases;
    }

    [Theory]
    [MemberData(nameof(MalformedFiles))]
    public void Malformed_Files_Throw_InvalidDataException_Naming_The_Problem(string description, byte[] bytes, string expected)
    {
        InvalidDataException error = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Load(bytes));
        Assert.True(error.Message.Contains(expected, StringComparison.Ordinal), $"{description}: '{error.Message}' should contain '{expected}'");

        using var stream = new MemoryStream(bytes);
        Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Read(stream));

        string path = Path.Combine(_directory, "bad.safetensors");
        File.WriteAllBytes(path, bytes);
        InvalidDataException fromFile = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path));
        Assert.Equal(SafeTensorsFile.NamingFile(error, path).Message, fromFile.Message);
        Assert.StartsWith($"safetensors file '{path}': ", fromFile.Message, StringComparison.Ordinal);
        File.Delete(path); // the handle was closed, or this would still work on Linux but not on Windows
    }

    [Fact]
    public void Every_Truncation_Of_A_Valid_File_Is_Rejected()
    {
        byte[] bytes = SampleFile();
        using (SafeTensorsFile.Load(bytes))
        {
        }

        for (int length = 0; length < bytes.Length; length++)
        {
            Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Load(bytes.AsMemory(0, length)));
        }

        // Truncating the header alone (and fixing its length) is rejected too.
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        for (int cut = 0; cut < headerLength; cut++)
        {
            byte[] header = bytes.AsSpan(8, cut).ToArray();
            byte[] shortened = Raw(header, bytes.AsSpan(8 + headerLength));
            Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Load(shortened));
        }
    }

    [Fact]
    public void Mutated_Files_Either_Load_Or_Throw_InvalidDataException()
    {
        byte[] original = SampleFile();
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(original);
        byte[] header = original.AsSpan(8, headerLength).ToArray();
        byte[] data = original.AsSpan(8 + headerLength).ToArray();
        byte[] interesting = "{}[]\",:0123456789-.eE \\u_abtnrfFISDHBL"u8.ToArray();
        var random = new TestRandom(20240607);
        int loaded = 0, rejected = 0;

        for (int iteration = 0; iteration < 4000; iteration++)
        {
            var mutated = new List<byte>(header);
            int mutations = 1 + random.Next(3);
            bool rewriteLength = true;
            for (int m = 0; m < mutations; m++)
            {
                int at = random.Next(mutated.Count + 1);
                switch (random.Next(6))
                {
                    case 0 when at < mutated.Count: mutated[at] ^= (byte)(1 << random.Next(8)); break;
                    case 1 when at < mutated.Count: mutated[at] = interesting[random.Next(interesting.Length)]; break;
                    case 2: mutated.Insert(at, interesting[random.Next(interesting.Length)]); break;
                    case 3 when at < mutated.Count: mutated.RemoveAt(at); break;
                    case 4: mutated.InsertRange(at, Enumerable.Range(0, 1 + random.Next(8)).Select(_ => (byte)random.Next(256))); break;
                    case 5: rewriteLength = false; break;
                    default: break;
                }
            }

            ulong claimed = rewriteLength ? (ulong)mutated.Count : random.Next(2) == 0 ? random.NextUInt64() : (ulong)(mutated.Count + random.Next(17) - 8);
            byte[] candidate = Raw([.. mutated], random.Next(8) == 0 ? data.AsSpan(0, random.Next(data.Length)) : data, claimed);

            try
            {
                using SafeTensorsFile file = SafeTensorsFile.Load(candidate);
                ReadEverything(file);
                loaded++;
            }
            catch (InvalidDataException)
            {
                rejected++;
            }
        }

        // Random bytes anywhere in the file (data bytes are free-form; header and prefix are not).
        for (int iteration = 0; iteration < 2000; iteration++)
        {
            byte[] candidate = (byte[])original.Clone();
            int flips = 1 + random.Next(4);
            for (int f = 0; f < flips; f++)
            {
                candidate[random.Next(candidate.Length)] = (byte)random.Next(256);
            }

            try
            {
                using SafeTensorsFile file = SafeTensorsFile.Load(candidate);
                ReadEverything(file);
                loaded++;
            }
            catch (InvalidDataException)
            {
                rejected++;
            }
        }

        _output.WriteLine($"{loaded} mutated files loaded, {rejected} rejected");
        Assert.True(rejected > 1000 && loaded > 100, $"{loaded} loaded, {rejected} rejected: the mutations should reach both outcomes");
    }

    private static void ReadEverything(SafeTensorsFile file)
    {
        foreach (SafeTensorsEntry entry in file.Tensors)
        {
            byte[] raw = new byte[entry.ByteLength];
            Assert.Equal(raw.Length, file.ReadBytes(entry.Name, raw));
            switch (entry.DType)
            {
                case SafeTensorsDType.F32 or SafeTensorsDType.F64 or SafeTensorsDType.F16 or SafeTensorsDType.BF16:
                    Assert.Equal(entry.ElementCount, file.ReadSingle(entry.Name).Length);
                    Assert.Equal(entry.ElementCount, file.ReadDouble(entry.Name).Length);
                    break;
                case SafeTensorsDType.I64:
                    Assert.Equal(entry.ElementCount, file.ReadInt64(entry.Name).Length);
                    break;
                default:
                    break;
            }
        }

        _ = file.Metadata.Count;
    }

    // ---------------------------------------------------------------- API misuse

    public static TheoryData<string, Action> ArgumentErrors()
    {
        SafeTensorsFile file = SafeTensorsFile.Load(SampleFile());
        return new TheoryData<string, Action>
        {
            { "name", () => file.ReadSingle("missing") },
            { "name", () => file.ReadSingle(null!) },
            { "name", () => file.ReadDouble("missing", new double[4]) },
            { "name", () => file.ReadInt64("lstm.weight") },
            { "name", () => file.ReadInt64("lstm.weight", new long[6]) },
            { "name", () => file.ReadSingle("steps") },
            { "name", () => file.ReadDouble("steps") },
            { "name", () => file.GetEntry("missing") },
            { "name", () => file.GetEntry(null!) },
            { "name", () => file.Contains(null!) },
            { "name", () => file.TryGetEntry(null!, out _) },
            { "name", () => file.ReadBytes("missing", new byte[4]) },
            { "destination", () => file.ReadSingle("lstm.weight", new float[5]) },
            { "destination", () => file.ReadDouble("lstm.bias", new double[1]) },
            { "destination", () => file.ReadInt64("steps", new long[2]) },
            { "destination", () => file.ReadBytes("steps", new byte[23]) },
            { "destination", () => file.ReadSingle("scalar", Span<float>.Empty) },
            { "path", () => SafeTensorsFile.Open(null!) },
            { "path", () => SafeTensorsFile.Open("") },
            { "stream", () => SafeTensorsFile.Read(null!) },
            { "stream", () => SafeTensorsFile.Read(new UnreadableStream()) },
            { "name", () => new SafeTensorsWriter().Add(null!, [1f]) },
            { "name", () => new SafeTensorsWriter().Add("__metadata__", [1f]) },
            { "name", () => new SafeTensorsWriter().Add("a", [1f]).Add("a", [1.0]) },
            { "shape", () => new SafeTensorsWriter().Add("a", [1f], -1) },
            { "shape", () => new SafeTensorsWriter().Add("a", ReadOnlySpan<long>.Empty, 0, -1) },
            { "shape", () => new SafeTensorsWriter().Add("a", ReadOnlySpan<float>.Empty, 1L << 40, 1L << 40, 0) }, // the reader would refuse it
            { "name", () => new SafeTensorsWriter().Add("w\ud800", [1f]) },
            { "key", () => new SafeTensorsWriter().SetMetadata("\udc00k", "v") },
            { "value", () => new SafeTensorsWriter().SetMetadata("k", "v\ud800") },
            { "data", () => new SafeTensorsWriter().Add("a", [1f, 2f], 3) },
            { "data", () => new SafeTensorsWriter().Add("a", [1f, 2f]) },
            { "data", () => new SafeTensorsWriter().Add("a", [1L], 1 << 20, 1 << 20, 1 << 20) },
            { "data", () => new SafeTensorsWriter().AddBFloat16("a", [1f], 2) },
            { "data", () => new SafeTensorsWriter().Add("a", [(Half)1], 0) },
            { "key", () => new SafeTensorsWriter().SetMetadata(null!, "v") },
            { "value", () => new SafeTensorsWriter().SetMetadata("k", null!) },
            { "stream", () => new SafeTensorsWriter().WriteTo(null!) },
            { "stream", () => new SafeTensorsWriter().WriteTo(new MemoryStream([], writable: false)) },
            { "path", () => new SafeTensorsWriter().Save(null!) },
            { "path", () => new SafeTensorsWriter().Save("") },
        };
    }

    [Theory]
    [MemberData(nameof(ArgumentErrors))]
    public void Misuse_Throws_ArgumentException_Naming_The_Parameter(string parameter, Action call)
    {
        ArgumentException error = Assert.ThrowsAny<ArgumentException>(call);
        Assert.Equal(parameter, error.ParamName);
    }

    [Fact]
    public void A_Failed_Add_Leaves_The_Writer_Unchanged()
    {
        var writer = new SafeTensorsWriter().Add("a", [1f], 1);
        byte[] before = Bytes(writer);
        Assert.Throws<ArgumentException>(() => writer.Add("b", [1f, 2f], 3));
        Assert.Throws<ArgumentException>(() => writer.Add("a", [1f], 1));
        Assert.Equal(1, writer.Count);
        Assert.Equal(before, Bytes(writer));
    }

    private sealed class UnreadableStream : MemoryStream
    {
        public override bool CanRead => false;
    }

    // ---------------------------------------------------------------- allocation

    [Fact]
    public void Span_Reads_Allocate_Nothing_After_Warm_Up()
    {
        byte[] bytes = SampleFile();
        string path = Path.Combine(_directory, "model.safetensors");
        File.WriteAllBytes(path, bytes);
        using SafeTensorsFile inMemory = SafeTensorsFile.Load(bytes);
        using SafeTensorsFile onDisk = SafeTensorsFile.Open(path);
        float[] singles = new float[8];
        double[] doubles = new double[8];
        long[] longs = new long[8];
        byte[] raw = new byte[64];

        void Calls()
        {
            foreach (SafeTensorsFile file in (ReadOnlySpan<SafeTensorsFile>)[inMemory, onDisk])
            {
                file.ReadSingle("lstm.weight", singles);
                file.ReadSingle("lstm.bias", singles);
                file.ReadSingle("half", singles);
                file.ReadSingle("bf", singles);
                file.ReadDouble("lstm.weight", doubles);
                file.ReadDouble("lstm.bias", doubles);
                file.ReadDouble("half", doubles);
                file.ReadDouble("bf", doubles);
                file.ReadInt64("steps", longs);
                file.ReadBytes("steps", raw);
            }
        }

        WarmUp.Run(Calls);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Calls();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
