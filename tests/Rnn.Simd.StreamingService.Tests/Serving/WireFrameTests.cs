using System.Buffers;
using Google.Protobuf;
using Rnn.Simd.StreamingProtocol;
using Xunit;

namespace Rnn.Simd.StreamingService.Tests.Serving;

/// <summary>
/// <see cref="WireFrame"/> against Google.Protobuf's generated <see cref="Frame"/> and <see cref="Output"/>: the same
/// bytes both ways, the encodings a proto3 parser must take, malformed bytes reported rather than thrown, and the
/// buffers reused.
/// </summary>
[Trait("Category", "Serving")]
public sealed class WireFrameTests
{
    [Theory]
    [InlineData(0UL, 0)]
    [InlineData(0UL, 3)]
    [InlineData(1UL, 0)]
    [InlineData(300UL, 256)]
    [InlineData(ulong.MaxValue, 5)]
    public void WrittenBytes_AreProtobufs_AndProtobufsBytesParse(ulong sequence, int count)
    {
        float[] values = [.. Enumerable.Range(0, count).Select(k => (k * 0.37f) - 1.5f)];
        values.AsSpan(0, Math.Min(1, count)).Fill(float.Epsilon);   // a denormal travels as its bits
        var frame = new WireFrame();
        frame.Set(sequence, values);
        byte[] ours = new byte[frame.WireSize];
        Assert.Equal(ours.Length, frame.WriteTo(ours));

        var expected = new Output { Sequence = sequence };
        expected.Values.AddRange(values);
        Assert.Equal(expected.ToByteArray(), ours);   // byte for byte what Google.Protobuf writes

        Frame parsed = Frame.Parser.ParseFrom(ours);
        Assert.Equal(sequence, parsed.Sequence);
        Assert.Equal(values, parsed.Values);

        var back = new WireFrame();
        back.Parse(new ReadOnlySequence<byte>(expected.ToByteArray()));
        Assert.Null(back.Error);
        Assert.Equal(sequence, back.Sequence);
        Assert.Equal(values, back.Span.ToArray());
    }

    [Fact]
    public void Parse_TakesUnpackedValues_SplitRuns_UnknownFields_AndTheLastSequence()
    {
        using var stream = new MemoryStream();
        var writer = new CodedOutputStream(stream);
        writer.WriteTag(1, WireFormat.WireType.Varint);
        writer.WriteUInt64(7);
        writer.WriteTag(2, WireFormat.WireType.Fixed32);   // one value, unpacked
        writer.WriteFloat(1.5f);
        writer.WriteTag(9, WireFormat.WireType.LengthDelimited);   // an unknown field
        writer.WriteString("ignored");
        writer.WriteTag(2, WireFormat.WireType.LengthDelimited);   // a packed run after it
        writer.WriteLength(8);
        writer.WriteFloat(-2f);
        writer.WriteFloat(3f);
        writer.WriteTag(10, WireFormat.WireType.Fixed64);
        writer.WriteFixed64(1);
        writer.WriteTag(1, WireFormat.WireType.Varint);   // the last one counts
        writer.WriteUInt64(8);
        writer.Flush();
        byte[] bytes = stream.ToArray();

        var frame = new WireFrame(1);   // the buffer grows
        frame.Parse(bytes.AsSpan());
        Assert.Null(frame.Error);
        Assert.Equal(8UL, frame.Sequence);
        Assert.Equal([1.5f, -2f, 3f], frame.Span.ToArray());
        Frame reference = Frame.Parser.ParseFrom(bytes);
        Assert.Equal(reference.Sequence, frame.Sequence);
        Assert.Equal(reference.Values, frame.Span.ToArray());
    }

    [Theory]
    [InlineData(new byte[] { 0x08 }, "truncated varint")]
    [InlineData(new byte[] { 0x12, 0x08, 0, 0, 0x80, 0x3F }, "packed run longer than the message")]
    [InlineData(new byte[] { 0x12, 0x03, 0, 0, 0x80 }, "packed run not a whole number of floats")]
    [InlineData(new byte[] { 0x15, 0, 0 }, "truncated fixed32")]
    [InlineData(new byte[] { 0x00 }, "field number zero")]
    [InlineData(new byte[] { 0x0B }, "a group")]
    public void MalformedBytes_SetError_AndNeverThrow(byte[] bytes, string what)
    {
        var frame = new WireFrame();
        frame.Parse(bytes.AsSpan());
        Assert.True(frame.Error is not null, what);
        Assert.Throws<InvalidProtocolBufferException>(() => Frame.Parser.ParseFrom(bytes));   // Google.Protobuf refuses them too
        frame.Parse(ReadOnlySpan<byte>.Empty);   // and the next message starts clean
        Assert.Null(frame.Error);
        Assert.Equal(0, frame.Count);
    }

    [Fact]
    public void AMessageInSegments_ParsesAsOne()
    {
        var expected = new Frame { Sequence = 42 };
        expected.Values.AddRange(Enumerable.Range(0, 300).Select(k => (float)k));
        byte[] bytes = expected.ToByteArray();
        var first = new Segment(bytes.AsMemory(0, 77));
        Segment last = first.Append(bytes.AsMemory(77, 500)).Append(bytes.AsMemory(577));
        var frame = new WireFrame();
        frame.Parse(new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length));
        Assert.Null(frame.Error);
        Assert.Equal(42UL, frame.Sequence);
        Assert.Equal(expected.Values, frame.Span.ToArray());
    }

    [Fact]
    public void ThePool_HandsBackWhatWasReturned_AndParsingAgainAllocatesNothing()
    {
        var pool = new WireFramePool(limit: 2);
        WireFrame frame = pool.Rent();
        var message = new Frame { Sequence = 3 };
        message.Values.AddRange(new float[256]);
        byte[] bytes = message.ToByteArray();
        frame.Parse(bytes.AsSpan());
        pool.Return(frame);
        Assert.Same(frame, pool.Rent());

        frame.Parse(bytes.AsSpan());
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            frame.Parse(bytes.AsSpan());
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
