// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Time} from "@openzeppelin/contracts/utils/types/Time.sol";
import {IAuditAnchor} from "./interfaces/IAuditAnchor.sol";

/**
 * @title AuditAnchor
 * @notice See {IAuditAnchor}. The admin (`DEFAULT_ADMIN_ROLE`) registers logs and adds and removes
 * anchorers; accounts with {ANCHORER_ROLE} anchor checkpoints of registered logs. Not upgradeable.
 */
contract AuditAnchor is IAuditAnchor, AccessControl {
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    mapping(bytes32 logId => LogInfo) private _logs;
    mapping(bytes32 logId => mapping(address anchorer => LatestCheckpoint)) private _latest;

    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc IAuditAnchor
    function registerLog(
        string calldata origin,
        bytes32 noteKey,
        uint32 maxHeadAgeSeconds
    ) external onlyRole(DEFAULT_ADMIN_ROLE) returns (bytes32 logId) {
        logId = keccak256(bytes(origin));
        if (noteKey == bytes32(0) || maxHeadAgeSeconds == 0) revert AuditAnchorInvalidLog(noteKey, maxHeadAgeSeconds);
        // registeredBlock is never 0 once registered: no transaction runs in the genesis block.
        if (_logs[logId].registeredBlock != 0) revert AuditAnchorLogExists(logId);
        _logs[logId] = LogInfo(noteKey, maxHeadAgeSeconds, uint64(block.number));
        emit LogRegistered(logId, origin, noteKey, maxHeadAgeSeconds);
    }

    /// @inheritdoc IAuditAnchor
    function anchor(bytes32 logId, uint64 treeSize, bytes32 rootHash) external onlyRole(ANCHORER_ROLE) {
        LatestCheckpoint storage latest = _latest[logId][msg.sender];
        uint64 latestTreeSize = latest.treeSize;
        // A stream exists only for a registered log, and logs are never removed: only a stream's first
        // anchor needs to read the registration.
        if (latestTreeSize == 0 && _logs[logId].registeredBlock == 0) revert AuditAnchorUnknownLog(logId);
        if (treeSize <= latestTreeSize) revert AuditAnchorTreeSizeNotIncreasing(latestTreeSize, treeSize);
        uint48 anchoredAt = Time.timestamp();
        (latest.treeSize, latest.anchoredAt, latest.blockNumber) = (treeSize, anchoredAt, uint64(block.number));
        emit CheckpointAnchored(logId, msg.sender, treeSize, rootHash, anchoredAt);
    }

    /// @inheritdoc IAuditAnchor
    function latestCheckpoint(bytes32 logId, address anchorer) external view returns (LatestCheckpoint memory) {
        return _latest[logId][anchorer];
    }

    /// @inheritdoc IAuditAnchor
    function logInfo(bytes32 logId) external view returns (LogInfo memory) {
        return _logs[logId];
    }
}
