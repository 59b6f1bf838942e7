using System.Diagnostics;
using Grpc.Core;
using Rnn.Simd.StreamingProtocol;

namespace Rnn.Simd.StreamingService;

/// <summary>
/// The gRPC service: one <c>Stream</c> call is one live stream. Each frame is checked, stepped, and answered before
/// the next is read, so a stream has one step in flight and no output queued beyond what HTTP/2 flow control holds:
/// a client that stops reading stops its own stream, and only its own.
/// </summary>
public sealed class StreamingInferenceService(StreamEngine engine, ServiceMetrics metrics, ModelDescription model) : StreamingInference.StreamingInferenceBase
{
    /// <inheritdoc/>
    public override Task<ModelInfo> Describe(DescribeRequest request, ServerCallContext context) => Task.FromResult(new ModelInfo
    {
        InputSize = engine.Network.Options.InputSize,
        OutputSize = engine.Network.Options.OutputSize,
        Source = model.Source,
        Mode = model.Mode,
    });

    /// <inheritdoc/>
    public override async Task Stream(IAsyncStreamReader<Frame> requestStream, IServerStreamWriter<Output> responseStream, ServerCallContext context)
    {
        int inputSize = engine.Network.Options.InputSize, outputSize = engine.Network.Options.OutputSize;
        CancellationToken cancellation = context.CancellationToken;
        using StreamEngine.Session session = engine.Open();
        float[] input = new float[inputSize], output = new float[outputSize];
        var reply = new Output();
        ulong expected = 0;
        while (await ReadAsync(requestStream, cancellation))
        {
            Frame frame = requestStream.Current;
            Check(frame, expected, inputSize);
            frame.Values.CopyTo(input, 0);
            Check(input, expected);
            long start = Stopwatch.GetTimestamp();
            await session.StepAsync(input, output, cancellation);
            metrics.StepCompleted(Stopwatch.GetTimestamp() - start);

            reply.Sequence = frame.Sequence;
            reply.Values.Clear();
            reply.Values.AddRange(output);
            await responseStream.WriteAsync(reply, cancellation);
            expected++;
        }
    }

    /// <summary>The next frame; an oversized one is counted before its RESOURCE_EXHAUSTED ends the call.</summary>
    private async ValueTask<bool> ReadAsync(IAsyncStreamReader<Frame> requests, CancellationToken cancellation)
    {
        try
        {
            return await requests.MoveNext(cancellation);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
        {
            metrics.FrameOversized();
            throw;
        }
    }

    private void Check(Frame frame, ulong expected, int inputSize)
    {
        if (frame.Values.Count != inputSize)
        {
            Refuse($"Frame {frame.Sequence} has {frame.Values.Count} values; the model takes {inputSize}.");
        }

        if (frame.Sequence != expected)
        {
            Refuse($"Frame {frame.Sequence} arrived where frame {expected} was due: a stream's frames are numbered 0, 1, 2, … in order.");
        }
    }

    private void Check(float[] input, ulong sequence)
    {
        for (int k = 0; k < input.Length; k++)
        {
            if (!float.IsFinite(input[k]))
            {
                Refuse($"Frame {sequence}, value {k} is {input[k]}: the service takes finite values only (a NaN would stay in the stream's state).");
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
