/// Errors of configuration operations, with the text ipvsadm prints for each (spec §6.3).
public enum IPVSError: Error, Equatable, Sendable, CustomStringConvertible {
    case serviceExists, noSuchService, serviceNotDefined, destinationExists, noSuchDestination,
         schedulerNotFound, outOfRange, invalidOperation, daemonRunning, noDaemon, noSuchDevice,
         addressNotAvailable

    public var description: String {
        switch self {
        case .serviceExists: "Service already exists"
        case .noSuchService: "No such service"
        case .serviceNotDefined: "Service not defined"
        case .destinationExists: "Destination already exists"
        case .noSuchDestination: "No such destination"
        case .schedulerNotFound: "Scheduler or persistence engine not found"
        case .outOfRange: "Numerical result out of range"
        case .invalidOperation: "Invalid operation.  Possibly wrong module version, address not unicast, ..."
        case .daemonRunning: "Daemon has already run"
        case .noDaemon: "No daemon is running"
        case .noSuchDevice: "No such device"
        case .addressNotAvailable: "Cannot assign requested address"
        }
    }
}
