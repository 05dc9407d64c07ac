// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Time} from "@openzeppelin/contracts/utils/types/Time.sol";
import {IAuditAnchor} from "./interfaces/IAuditAnchor.sol";

/**
 * @title AuditAnchor
 * @notice See {IAuditAnchor}. Accounts with {ANCHORER_ROLE} anchor checkpoints; the admin
 * (`DEFAULT_ADMIN_ROLE`) adds and removes anchorers. Not upgradeable.
 */
contract AuditAnchor is IAuditAnchor, AccessControl {
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    LatestCheckpoint private _latest;

    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc IAuditAnchor
    function anchor(uint64 treeSize, bytes32 rootHash) external onlyRole(ANCHORER_ROLE) {
        uint64 latestTreeSize = _latest.treeSize;
        if (treeSize <= latestTreeSize) revert AuditAnchorTreeSizeNotIncreasing(latestTreeSize, treeSize);
        uint48 anchoredAt = Time.timestamp();
        _latest = LatestCheckpoint(treeSize, anchoredAt, uint64(block.number));
        emit CheckpointAnchored(treeSize, rootHash, anchoredAt);
    }

    /// @inheritdoc IAuditAnchor
    function latestCheckpoint() external view returns (LatestCheckpoint memory) {
        return _latest;
    }
}
