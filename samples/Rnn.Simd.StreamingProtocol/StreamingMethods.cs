using System.Buffers;
using Grpc.Core;

namespace Rnn.Simd.StreamingProtocol;

/// <summary>
/// The service's two methods as gRPC method descriptors of their own, the same names and bytes as the generated
/// <see cref="StreamingInference"/> ones: <see cref="Stream"/> moves <see cref="WireFrame"/>s (parsed into pooled
/// frames, written straight into gRPC's buffers), so a stream's frames allocate nothing; <see cref="Describe"/> uses
/// Google.Protobuf's messages. The service binds these; the load generator calls through them.
/// </summary>
public static class StreamingMethods
{
    /// <summary>The service's full name in streaming.proto.</summary>
    public const string ServiceName = "rnnsimd.streaming.v1.StreamingInference";

    private static readonly Marshaller<WireFrame> s_frames = new(Serialize, Deserialize);

    /// <summary>Where incoming frames come from; return each to it after reading it.</summary>
    public static WireFramePool Pool { get; } = new();

    /// <summary><c>Stream</c>: frames in, outputs out.</summary>
    public static Method<WireFrame, WireFrame> Stream { get; } = new(MethodType.DuplexStreaming, ServiceName, "Stream", s_frames, s_frames);

    /// <summary><c>Describe</c>: the model's sizes.</summary>
    public static Method<DescribeRequest, ModelInfo> Describe { get; } = new(
        MethodType.Unary,
        ServiceName,
        "Describe",
        Marshallers.Create(static (DescribeRequest r) => Google.Protobuf.MessageExtensions.ToByteArray(r), DescribeRequest.Parser.ParseFrom),
        Marshallers.Create(static (ModelInfo m) => Google.Protobuf.MessageExtensions.ToByteArray(m), ModelInfo.Parser.ParseFrom));

    /// <summary>Opens a <c>Stream</c> call on <paramref name="invoker"/> (a channel's <c>CreateCallInvoker()</c>).</summary>
    public static AsyncDuplexStreamingCall<WireFrame, WireFrame> OpenStream(CallInvoker invoker, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(invoker);
        return invoker.AsyncDuplexStreamingCall(Stream, null, new CallOptions(cancellationToken: cancellationToken));
    }

    private static void Serialize(WireFrame frame, SerializationContext context)
    {
        int size = frame.WireSize;
        context.SetPayloadLength(size);
        IBufferWriter<byte> writer = context.GetBufferWriter();
        frame.WriteTo(writer.GetSpan(size));
        writer.Advance(size);
        context.Complete();
    }

    private static WireFrame Deserialize(DeserializationContext context)
    {
        WireFrame frame = Pool.Rent();
        frame.Parse(context.PayloadAsReadOnlySequence());
        return frame;
    }
}
