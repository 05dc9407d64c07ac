// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {Time} from "@openzeppelin/contracts/utils/types/Time.sol";
import {IDataUseRegistry} from "./interfaces/IDataUseRegistry.sol";

/**
 * @title DataUseRegistry
 * @notice See {IDataUseRegistry}. Not upgradeable and without any owner: no one but a subject can
 * create, alter or end its grants.
 *
 * Gas shapes the storage: a grant is one slot (grantee, grantedAt, expiresAt), so issuing one costs
 * a single fresh slot. {revokeAll} records a per-(subject, grantee) cutoff time instead of touching
 * grants; a grant is ended by it when `grantedAt <= cutoff`. Issuing a fresh grant never reads that
 * cutoff (the comparison happens when the grant is checked), which keeps a new grant at one cold slot.
 */
contract DataUseRegistry is IDataUseRegistry, EIP712, Nonces {
    bytes32 private constant GRANT_TYPEHASH =
        keccak256(
            "Grant(address subject,address grantee,bytes32 category,bytes32 purpose,uint48 expiresAt,uint256 nonce,uint256 deadline)"
        );
    bytes32 private constant CHANGE_EXPIRY_TYPEHASH =
        keccak256("ChangeExpiry(address subject,bytes32 grantId,uint48 expiresAt,uint256 nonce,uint256 deadline)");
    bytes32 private constant REVOKE_TYPEHASH =
        keccak256("Revoke(address subject,bytes32 grantId,uint256 nonce,uint256 deadline)");
    bytes32 private constant REVOKE_ALL_TYPEHASH =
        keccak256("RevokeAll(address subject,address grantee,uint256 nonce,uint256 deadline)");
    bytes32 private constant SET_DATA_EXPIRY_TYPEHASH =
        keccak256("SetDataExpiry(address subject,bytes32 category,uint48 expiresAt,uint256 nonce,uint256 deadline)");

    mapping(address subject => mapping(bytes32 grantId => Grant)) private _grants;
    mapping(address subject => mapping(address grantee => uint256)) private _allRevokedAt;
    mapping(address subject => mapping(bytes32 category => uint48)) private _dataExpiry;

    constructor() EIP712("DataUseRegistry", "1") {}

    // ---------------------------------------------------------------- actions of the caller

    /// @inheritdoc IDataUseRegistry
    function grant(
        address grantee,
        bytes32 category,
        bytes32 purpose,
        uint48 expiresAt
    ) external returns (bytes32 grantId) {
        return _grant(_grants[msg.sender], msg.sender, grantee, category, purpose, expiresAt, Time.timestamp());
    }

    /// @inheritdoc IDataUseRegistry
    function grantBatch(GrantRequest[] calldata requests) external {
        uint48 now_ = Time.timestamp();
        mapping(bytes32 => Grant) storage grants = _grants[msg.sender];
        uint256 length = requests.length;
        for (uint256 i = 0; i < length; ) {
            GrantRequest calldata request = requests[i];
            _grant(grants, msg.sender, request.grantee, request.category, request.purpose, request.expiresAt, now_);
            // `i < length` and `length` is bounded by calldata size, far below 2**256.
            unchecked {
                ++i;
            }
        }
    }

    /// @inheritdoc IDataUseRegistry
    function changeExpiry(bytes32 grantId, uint48 expiresAt) external {
        _changeExpiry(msg.sender, grantId, expiresAt);
    }

    /// @inheritdoc IDataUseRegistry
    function revoke(bytes32 grantId) external {
        _revoke(msg.sender, grantId);
    }

    /// @inheritdoc IDataUseRegistry
    function revokeBatch(bytes32[] calldata grantIds) external {
        uint256 length = grantIds.length;
        for (uint256 i = 0; i < length; ) {
            _revoke(msg.sender, grantIds[i]);
            // `i < length` and `length` is bounded by calldata size, far below 2**256.
            unchecked {
                ++i;
            }
        }
    }

    /// @inheritdoc IDataUseRegistry
    function revokeAll(address grantee) external {
        _revokeAll(msg.sender, grantee);
    }

    /// @inheritdoc IDataUseRegistry
    function setDataExpiry(bytes32 category, uint48 expiresAt) external {
        _setDataExpiry(msg.sender, category, expiresAt);
    }

    // ---------------------------------------------------------------- signed actions, relayed

    /// @inheritdoc IDataUseRegistry
    function grantBySig(
        address subject,
        address grantee,
        bytes32 category,
        bytes32 purpose,
        uint48 expiresAt,
        uint256 deadline,
        bytes calldata signature
    ) external returns (bytes32 grantId) {
        _checkDeadline(deadline);
        _checkSignature(subject, _grantStructHash(subject, grantee, category, purpose, expiresAt, deadline), signature);
        return _grant(_grants[subject], subject, grantee, category, purpose, expiresAt, Time.timestamp());
    }

    /// @inheritdoc IDataUseRegistry
    function changeExpiryBySig(
        address subject,
        bytes32 grantId,
        uint48 expiresAt,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _checkDeadline(deadline);
        _checkSignature(
            subject,
            keccak256(abi.encode(CHANGE_EXPIRY_TYPEHASH, subject, grantId, expiresAt, _useNonce(subject), deadline)),
            signature
        );
        _changeExpiry(subject, grantId, expiresAt);
    }

    /// @inheritdoc IDataUseRegistry
    function revokeBySig(address subject, bytes32 grantId, uint256 deadline, bytes calldata signature) external {
        _checkDeadline(deadline);
        _checkSignature(
            subject,
            keccak256(abi.encode(REVOKE_TYPEHASH, subject, grantId, _useNonce(subject), deadline)),
            signature
        );
        _revoke(subject, grantId);
    }

    /// @inheritdoc IDataUseRegistry
    function revokeAllBySig(address subject, address grantee, uint256 deadline, bytes calldata signature) external {
        _checkDeadline(deadline);
        _checkSignature(
            subject,
            keccak256(abi.encode(REVOKE_ALL_TYPEHASH, subject, grantee, _useNonce(subject), deadline)),
            signature
        );
        _revokeAll(subject, grantee);
    }

    /// @inheritdoc IDataUseRegistry
    function setDataExpiryBySig(
        address subject,
        bytes32 category,
        uint48 expiresAt,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _checkDeadline(deadline);
        _checkSignature(
            subject,
            keccak256(abi.encode(SET_DATA_EXPIRY_TYPEHASH, subject, category, expiresAt, _useNonce(subject), deadline)),
            signature
        );
        _setDataExpiry(subject, category, expiresAt);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IDataUseRegistry
    function grantIdOf(
        address subject,
        address grantee,
        bytes32 category,
        bytes32 purpose
    ) public pure returns (bytes32) {
        return _grantId(subject, grantee, category, purpose);
    }

    /// @inheritdoc IDataUseRegistry
    function getGrant(address subject, bytes32 grantId) external view returns (Grant memory) {
        return _grants[subject][grantId];
    }

    /// @inheritdoc IDataUseRegistry
    function check(
        address subject,
        address grantee,
        bytes32 category,
        bytes32 purpose
    ) external view returns (bool valid, uint48 expiresAt, DenyReason reason) {
        Grant memory record = _grants[subject][_grantId(subject, grantee, category, purpose)];
        if (record.grantee == address(0)) return (false, 0, DenyReason.NoGrant);
        if (record.expiresAt == 0 || record.grantedAt <= _allRevokedAt[subject][grantee]) {
            return (false, 0, DenyReason.Revoked);
        }
        expiresAt = record.expiresAt;
        DenyReason ending = DenyReason.Expired;
        uint48 dataExpiresAt = _dataExpiry[subject][category];
        if (dataExpiresAt != 0 && dataExpiresAt < expiresAt) {
            expiresAt = dataExpiresAt;
            ending = DenyReason.DataExpired;
        }
        // Half-open window: valid strictly before `expiresAt`.
        if (Time.timestamp() < expiresAt) return (true, expiresAt, DenyReason.None);
        return (false, expiresAt, ending);
    }

    /// @inheritdoc IDataUseRegistry
    function dataExpiryOf(address subject, bytes32 category) external view returns (uint48) {
        return _dataExpiry[subject][category];
    }

    /// @inheritdoc IDataUseRegistry
    function allRevokedAt(address subject, address grantee) external view returns (uint48) {
        return uint48(_allRevokedAt[subject][grantee]);
    }

    // ---------------------------------------------------------------- internals

    function _grant(
        mapping(bytes32 => Grant) storage grants,
        address subject,
        address grantee,
        bytes32 category,
        bytes32 purpose,
        uint48 expiresAt,
        uint48 now_
    ) private returns (bytes32 grantId) {
        if (grantee == address(0)) revert DataUseRegistryInvalidGrantee(grantee);
        _checkFuture(expiresAt, now_);
        grantId = _grantId(subject, grantee, category, purpose);
        Grant storage record = grants[grantId];
        if (record.grantee != address(0) && _isActive(subject, record, now_)) {
            _moveExpiry(subject, grantId, record, expiresAt);
        } else {
            _storeGrant(record, grantee, now_, expiresAt);
            emit GrantIssued(subject, grantee, category, purpose, expiresAt);
        }
    }

    function _changeExpiry(address subject, bytes32 grantId, uint48 expiresAt) private {
        uint48 now_ = Time.timestamp();
        _checkFuture(expiresAt, now_);
        Grant storage record = _grants[subject][grantId];
        // Only the record's own state is checked: reading the revokeAll cutoff too would cost a cold
        // slot on every change. A grant ended by {revokeAll} stays ended whatever its expiry says.
        if (now_ >= record.expiresAt) revert DataUseRegistryGrantNotActive(subject, grantId);
        _moveExpiry(subject, grantId, record, expiresAt);
    }

    function _moveExpiry(address subject, bytes32 grantId, Grant storage record, uint48 expiresAt) private {
        uint48 previous = record.expiresAt;
        if (previous == expiresAt) return;
        record.expiresAt = expiresAt;
        emit GrantExpiryChanged(subject, record.grantee, grantId, previous, expiresAt);
    }

    /**
     * @dev Ends a grant whose own expiry has not passed. A grant already ended by {revokeAll} is
     * marked revoked once more: telling the two apart would cost a cold read on every revocation,
     * and the outcome (not valid) is the same.
     */
    function _revoke(address subject, bytes32 grantId) private {
        Grant storage record = _grants[subject][grantId];
        if (record.expiresAt <= Time.timestamp()) return;
        record.expiresAt = 0;
        emit GrantRevoked(subject, record.grantee, grantId);
    }

    function _revokeAll(address subject, address grantee) private {
        if (grantee == address(0)) revert DataUseRegistryInvalidGrantee(grantee);
        mapping(address grantee => uint256) storage cutoffs = _allRevokedAt[subject];
        if (cutoffs[grantee] == block.timestamp) return;
        cutoffs[grantee] = block.timestamp;
        emit AllGrantsRevoked(subject, grantee);
    }

    function _setDataExpiry(address subject, bytes32 category, uint48 expiresAt) private {
        if (expiresAt != 0) _checkFuture(expiresAt, Time.timestamp());
        uint48 previous = _dataExpiry[subject][category];
        if (previous == expiresAt) return;
        _dataExpiry[subject][category] = expiresAt;
        emit DataExpirySet(subject, category, previous, expiresAt);
    }

    /**
     * @dev Writes a whole grant with one SSTORE. Assigning the fields (or a struct) makes the
     * compiler read and mask the slot once per field, which costs ~400 gas on every new grant. The
     * layout is {Grant}'s: grantee in bits 0-159, grantedAt in 160-207, expiresAt in 208-255.
     */
    function _storeGrant(Grant storage record, address grantee, uint48 grantedAt, uint48 expiresAt) private {
        assembly ("memory-safe") {
            sstore(record.slot, or(or(grantee, shl(160, grantedAt)), shl(208, expiresAt)))
        }
    }

    /// @dev Active: issued, not revoked (one by one or by {revokeAll}), not past its own expiry. The
    /// data expiry only caps validity: it does not end the grant's record.
    function _isActive(address subject, Grant storage record, uint48 now_) private view returns (bool) {
        return now_ < record.expiresAt && record.grantedAt > _allRevokedAt[subject][record.grantee];
    }

    function _checkFuture(uint48 expiresAt, uint48 now_) private pure {
        if (expiresAt <= now_) revert DataUseRegistryExpiryNotInFuture(expiresAt, now_);
    }

    /**
     * @dev keccak256(abi.encode(subject, grantee, category, purpose)), hashed in scratch memory past
     * the free memory pointer without moving it: `abi.encode` would allocate on every grant of a batch.
     */
    function _grantId(
        address subject,
        address grantee,
        bytes32 category,
        bytes32 purpose
    ) private pure returns (bytes32 grantId) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, subject)
            mstore(add(ptr, 0x20), grantee)
            mstore(add(ptr, 0x40), category)
            mstore(add(ptr, 0x60), purpose)
            grantId := keccak256(ptr, 0x80)
        }
    }

    /// @dev Split from {grantBySig} to keep its stack shallow; consumes `subject`'s nonce.
    function _grantStructHash(
        address subject,
        address grantee,
        bytes32 category,
        bytes32 purpose,
        uint48 expiresAt,
        uint256 deadline
    ) private returns (bytes32) {
        return
            keccak256(
                abi.encode(GRANT_TYPEHASH, subject, grantee, category, purpose, expiresAt, _useNonce(subject), deadline)
            );
    }

    function _checkDeadline(uint256 deadline) private view {
        if (block.timestamp > deadline) revert DataUseRegistryExpiredSignature(deadline);
    }

    function _checkSignature(address subject, bytes32 structHash, bytes calldata signature) private view {
        if (!SignatureChecker.isValidSignatureNowCalldata(subject, _hashTypedDataV4(structHash), signature)) {
            revert DataUseRegistryInvalidSignature(subject);
        }
    }
}
