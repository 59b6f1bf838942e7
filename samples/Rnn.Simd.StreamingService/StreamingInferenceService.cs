using System.Diagnostics;
using Grpc.Core;
using Rnn.Simd.StreamingProtocol;

namespace Rnn.Simd.StreamingService;

/// <summary>
/// The gRPC service: one <c>Stream</c> call is one live stream. Each frame is checked, stepped, and answered before
/// the next is read, so a stream has one step in flight and no output queued beyond what HTTP/2 flow control holds:
/// a client that stops reading stops its own stream, and only its own.
/// </summary>
/// <remarks>
/// The methods are bound through <see cref="StreamingMethods"/> (not the generated classes): a frame is
/// parsed into a pooled <see cref="WireFrame"/>, stepped from there, returned to the pool, and answered from one reply
/// per call that the engine writes into; so a frame allocates nothing here (what Kestrel and gRPC allocate is theirs).
/// </remarks>
public sealed class StreamingInferenceService(StreamEngine engine, ServiceMetrics metrics, ModelDescription model) : StreamingServiceBase
{
    /// <summary>The model's sizes and the service's mode.</summary>
    public override Task<ModelInfo> Describe(DescribeRequest request, ServerCallContext context) => Task.FromResult(new ModelInfo
    {
        InputSize = engine.Network.Options.InputSize,
        OutputSize = engine.Network.Options.OutputSize,
        Source = model.Source,
        Mode = model.Mode,
    });

    /// <summary>One live stream: frames in, one output each, in order.</summary>
    public override async Task Stream(IAsyncStreamReader<WireFrame> requestStream, IServerStreamWriter<WireFrame> responseStream, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(requestStream);
        ArgumentNullException.ThrowIfNull(responseStream);
        ArgumentNullException.ThrowIfNull(context);
        int inputSize = engine.Network.Options.InputSize, outputSize = engine.Network.Options.OutputSize;
        CancellationToken cancellation = context.CancellationToken;
        using StreamEngine.Session session = engine.Open();
        var reply = new WireFrame(outputSize) { Count = outputSize };
        Memory<float> output = reply.Values.AsMemory(0, outputSize);
        ulong expected = 0;
        while (true)
        {
            bool more;
            try
            {
                more = await requestStream.MoveNext(cancellation);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
            {
                metrics.FrameOversized();   // counted before its RESOURCE_EXHAUSTED ends the call
                throw;
            }

            if (!more)
            {
                break;
            }

            WireFrame frame = requestStream.Current;
            try
            {
                Check(frame, expected, inputSize);
                long start = Stopwatch.GetTimestamp();
                await session.StepAsync(frame.Values.AsMemory(0, inputSize), output, cancellation);
                metrics.StepCompleted(Stopwatch.GetTimestamp() - start);
            }
            finally
            {
                StreamingMethods.Pool.Return(frame);   // the step has read it (or never will)
            }

            reply.Sequence = expected;
            await responseStream.WriteAsync(reply, cancellation);
            expected++;
        }
    }

    private void Check(WireFrame frame, ulong expected, int inputSize)
    {
        if (frame.Error is not null)
        {
            Refuse($"Frame {expected} is not a valid message: {frame.Error}.");
        }

        if (frame.Count != inputSize)
        {
            Refuse($"Frame {frame.Sequence} has {frame.Count} values; the model takes {inputSize}.");
        }

        if (frame.Sequence != expected)
        {
            Refuse($"Frame {frame.Sequence} arrived where frame {expected} was due: a stream's frames are numbered 0, 1, 2, … in order.");
        }

        ReadOnlySpan<float> input = frame.Span;
        for (int k = 0; k < input.Length; k++)
        {
            if (!float.IsFinite(input[k]))
            {
                Refuse($"Frame {frame.Sequence}, value {k} is {input[k]}: the service takes finite values only (a NaN would stay in the stream's state).");
            }
        }
    }

    private void Refuse(string message)
    {
        metrics.FrameInvalid();
        throw new RpcException(new Status(StatusCode.InvalidArgument, message));
    }
}

/// <summary>What <c>Describe</c> tells of the model and mode.</summary>
/// <param name="Source">Where the weights came from.</param>
/// <param name="Mode">"batched" or "per-stream".</param>
public sealed record ModelDescription(string Source, string Mode);
