// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title IAuditAnchor
 * @notice Anchors checkpoints of gateways' access logs, RFC 6962 Merkle trees. The admin registers
 * each log once, by its origin (`data-use-ledger/<chainId>/<anchor address>`), with the Ed25519 key
 * that signs its checkpoints as C2SP signed notes and its staleness window; anchorers then post
 * `(treeSize, rootHash)` pairs for a registered log. Each anchor is bound to its log and to its
 * sender: sizes grow strictly per `(logId, anchorer)`, so an anchorer that posts a size it cannot
 * follow bricks only its own stream, and once its role is revoked another anchorer carries on while
 * everything already anchored stays in the {CheckpointAnchored} events. Storage keeps one slot per
 * stream: the latest size, its time and the block whose logs hold its root.
 */
interface IAuditAnchor {
    /// @dev A stream's latest anchored checkpoint, without its root (read it from the event in `blockNumber`).
    struct LatestCheckpoint {
        uint64 treeSize;
        uint48 anchoredAt;
        uint64 blockNumber;
    }

    /// @dev A registered log: its checkpoint note key, its staleness window and the block that registered it.
    struct LogInfo {
        bytes32 noteKey;
        uint32 maxHeadAgeSeconds;
        uint64 registeredBlock;
    }

    /**
     * @dev Emitted when the log named by `origin` (`logId = keccak256(bytes(origin))`) is registered.
     * `noteKey` is the raw Ed25519 public key that signs its checkpoints; an auditor holds every
     * release in it to "the head it was decided on is at most `maxHeadAgeSeconds` old".
     */
    event LogRegistered(bytes32 indexed logId, string origin, bytes32 noteKey, uint32 maxHeadAgeSeconds);

    /// @dev Emitted when `anchorer` anchors log `logId` at `treeSize` entries with Merkle root `rootHash`.
    event CheckpointAnchored(bytes32 indexed logId, address indexed anchorer, uint64 treeSize, bytes32 rootHash, uint48 anchoredAt);

    /// @dev `treeSize` does not grow past the sender's latest anchored size `latestTreeSize` for this log.
    error AuditAnchorTreeSizeNotIncreasing(uint64 latestTreeSize, uint64 treeSize);

    /// @dev No log is registered under `logId`.
    error AuditAnchorUnknownLog(bytes32 logId);

    /// @dev A log is already registered under `logId`; a log's key and window never change.
    error AuditAnchorLogExists(bytes32 logId);

    /// @dev A log needs a note key and a staleness window of at least one second.
    error AuditAnchorInvalidLog(bytes32 noteKey, uint32 maxHeadAgeSeconds);

    /**
     * @notice Registers the log named `origin` with its checkpoint note key and staleness window.
     * Only the admin; once per origin.
     * @return logId `keccak256(bytes(origin))`, the id anchors name the log by.
     */
    function registerLog(string calldata origin, bytes32 noteKey, uint32 maxHeadAgeSeconds) external returns (bytes32 logId);

    /**
     * @notice Anchors `(treeSize, rootHash)` for the registered log `logId`. Only anchorers;
     * `treeSize` must be larger than the sender's latest one for this log.
     */
    function anchor(bytes32 logId, uint64 treeSize, bytes32 rootHash) external;

    /// @notice `anchorer`'s latest checkpoint of log `logId` (all zero before its first).
    function latestCheckpoint(bytes32 logId, address anchorer) external view returns (LatestCheckpoint memory);

    /// @notice Log `logId`'s note key, staleness window and registration block (all zero if not registered).
    function logInfo(bytes32 logId) external view returns (LogInfo memory);
}
