// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title IAuditAnchor
 * @notice Anchors checkpoints of the gateway's access log, an RFC 6962 Merkle tree: `(treeSize,
 * rootHash)` pairs posted by anchorers, with strictly growing sizes. Every checkpoint, the latest
 * included, is in a {CheckpointAnchored} event; storage keeps one slot: the latest size, its time
 * and the block whose logs hold its root, which is what keeps an anchor within one fresh-write-free
 * slot of gas.
 */
interface IAuditAnchor {
    /// @dev The latest anchored checkpoint, without its root (read it from the event in `blockNumber`).
    struct LatestCheckpoint {
        uint64 treeSize;
        uint48 anchoredAt;
        uint64 blockNumber;
    }

    /// @dev Emitted when the log's state at `treeSize` entries, with Merkle root `rootHash`, is anchored.
    event CheckpointAnchored(uint64 indexed treeSize, bytes32 rootHash, uint48 anchoredAt);

    /// @dev `treeSize` does not grow past the latest anchored size `latestTreeSize`.
    error AuditAnchorTreeSizeNotIncreasing(uint64 latestTreeSize, uint64 treeSize);

    /// @notice Anchors `(treeSize, rootHash)`; `treeSize` must be larger than the latest one's.
    function anchor(uint64 treeSize, bytes32 rootHash) external;

    /// @notice The latest anchored checkpoint's size, time and block (all zero before the first).
    function latestCheckpoint() external view returns (LatestCheckpoint memory);
}
