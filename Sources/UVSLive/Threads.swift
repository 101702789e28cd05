#if canImport(Glibc)
import Glibc
#endif

/// Starting a POSIX thread that runs a Swift closure (the closure travels as a retained
/// box). Joinable unless `detached`.
enum Threads {
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    @discardableResult
    static func start(detached: Bool = false, _ body: @escaping () -> Void) -> pthread_t {
        var t = pthread_t()
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        if detached { pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED)) }
        pthread_create(&t, &attr, { arg in
            Unmanaged<Body>.fromOpaque(arg!).takeRetainedValue().run()
            return nil
        }, Unmanaged.passRetained(Body(body)).toOpaque())
        pthread_attr_destroy(&attr)
        return t
    }
}
