using Grpc.Core;

namespace Rnn.Simd.StreamingProtocol;

/// <summary>
/// The service's base class over <see cref="StreamingMethods"/>, as the generated
/// <c>StreamingInference.StreamingInferenceBase</c> is over the generated methods: Grpc.AspNetCore finds
/// <see cref="BindService"/> through the attribute and binds each method to its override.
/// </summary>
[BindServiceMethod(typeof(StreamingServiceBase), nameof(BindService))]
public abstract class StreamingServiceBase
{
    /// <summary>One live stream: frames in, one output each, in order. Return each frame read to <see cref="StreamingMethods.Pool"/>.</summary>
    public abstract Task Stream(IAsyncStreamReader<WireFrame> requestStream, IServerStreamWriter<WireFrame> responseStream, ServerCallContext context);

    /// <summary>The model's sizes.</summary>
    public abstract Task<ModelInfo> Describe(DescribeRequest request, ServerCallContext context);

    /// <summary>Binds <c>Stream</c> and <c>Describe</c> (Grpc.AspNetCore calls it with a null service).</summary>
    public static void BindService(ServiceBinderBase binder, StreamingServiceBase? service)
    {
        ArgumentNullException.ThrowIfNull(binder);
        binder.AddMethod(StreamingMethods.Stream, service is null ? null : service.Stream);
        binder.AddMethod(StreamingMethods.Describe, service is null ? null : service.Describe);
    }
}
